import json
import random

import numpy as np
import pytest
import torch

from kexue_lab import runtime


def test_profile_is_smoke_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert runtime.profile() == "smoke"


def test_profile_follows_the_hardware_without_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(runtime, "_cuda_available", lambda: True)
    assert runtime.profile() == "full"
    monkeypatch.setattr(runtime, "_cuda_available", lambda: False)
    assert runtime.profile() == "smoke"


def test_ci_false_does_not_count(monkeypatch):
    monkeypatch.setenv("CI", "false")
    monkeypatch.setattr(runtime, "_cuda_available", lambda: True)
    assert runtime.profile() == "full"


@pytest.mark.parametrize(
    "value, expected", [("smoke", "smoke"), ("FULL", "full"), (" full ", "full")]
)
def test_env_overrides_everything(monkeypatch, value, expected):
    monkeypatch.setenv("CI", "1")
    monkeypatch.setenv("KEXUE_PROFILE", value)
    assert runtime.profile() == expected


def test_invalid_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("KEXUE_PROFILE", "fast")
    with pytest.raises(ValueError, match=r"KEXUE_PROFILE='fast'.*'smoke'.*'full'"):
        runtime.profile()


def test_device_is_cpu_for_smoke():
    assert runtime.device("smoke") == torch.device("cpu")
    with pytest.raises(ValueError, match="for_profile"):
        runtime.device("gpu")  # type: ignore[arg-type]


def test_seed_everything_repeats_all_generators():
    runtime.seed_everything(7)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    runtime.seed_everything(7)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_seed_rejects_bad_values(bad):
    with pytest.raises((TypeError, ValueError), match="seed"):
        runtime.seed_everything(bad)


def test_setup_prints_profile_device_and_time(monkeypatch, capsys):
    monkeypatch.setenv("KEXUE_PROFILE", "smoke")
    run = runtime.setup("12", smoke_seconds=20, full_seconds=240, seed=3)
    out = capsys.readouterr().out
    assert "profile : smoke" in out and "device  : cpu" in out and "about 20 s" in out
    assert run.profile == "smoke" and run.seed == 3 and run.smoke
    assert run.pick(smoke=1, full=2) == 1


def test_setup_rejects_bad_arguments():
    with pytest.raises(TypeError, match="chapter"):
        runtime.setup("", smoke_seconds=1, full_seconds=1)
    with pytest.raises(TypeError, match="chapter"):
        runtime.setup(12, smoke_seconds=1, full_seconds=1)
    with pytest.raises(ValueError, match="chapter='41'"):
        runtime.setup("41", smoke_seconds=1, full_seconds=1)
    with pytest.raises(ValueError, match="smoke_seconds"):
        runtime.setup("1", smoke_seconds=0, full_seconds=1)


def _chapter(profile: str, tmp_path=None) -> runtime.Chapter:
    return runtime.Chapter("06", profile, torch.device("cpu"), 0, results_dir=tmp_path)


def test_dataset_choice_and_override(monkeypatch):
    run = _chapter("full")
    assert run.dataset(smoke="mnist-5k", full="mnist") == "mnist"
    monkeypatch.setenv("KEXUE_FULL_DATA", "fashion-mnist")
    assert run.dataset(smoke="mnist-5k", full="mnist") == "fashion-mnist"
    monkeypatch.setenv("KEXUE_FULL_DATA", "imagenet")
    with pytest.raises(ValueError, match="KEXUE_FULL_DATA"):
        run.dataset(smoke="mnist-5k", full="mnist")
    assert _chapter("smoke").dataset(smoke="mnist-5k", full="mnist") == "mnist-5k"


def test_the_context_names_the_chapter_and_titles_its_ledger(monkeypatch):
    monkeypatch.setenv("KEXUE_PROFILE", "smoke")
    run = runtime.setup("6", smoke_seconds=1, full_seconds=1)
    assert run.chapter == "06" and run.ledger is run.ledger
    assert run.ledger.chapter == "06" and run.ledger.title == runtime.chapter_info("06")["title"]
    assert "VQ-VAE" in run.title


def test_seed_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("KEXUE_PROFILE", "smoke")
    monkeypatch.setenv("KEXUE_SEED", "4")
    assert runtime.setup("12", smoke_seconds=1, full_seconds=1).seed == 4
    assert runtime.setup("12", smoke_seconds=1, full_seconds=1, seed=2).seed == 2
    monkeypatch.setenv("KEXUE_SEED", "-1")
    with pytest.raises(ValueError, match="KEXUE_SEED"):
        runtime.setup("12", smoke_seconds=1, full_seconds=1)


def test_timed_blocks_are_kept_for_the_record(tmp_path):
    run = _chapter("full", tmp_path)
    with run.timed("training") as t:
        sum(range(1000))
    assert t.seconds > 0 and run.timings == {"training": t.seconds}
    with pytest.raises(ValueError, match="name"):
        with run.timed(""):
            pass


def test_save_writes_only_under_full(tmp_path):
    assert _chapter("smoke", tmp_path).save({"accuracy": 0.9}) is None
    assert not list(tmp_path.iterdir())
    run = _chapter("full", tmp_path)
    with run.timed("fit"):
        pass
    path = run.save({"accuracy": 0.9})
    assert path == tmp_path / "06-full.json"
    metrics, header = run.full_column()
    assert metrics == {"accuracy": 0.9} and header.startswith("full run (")
    record = json.loads(path.read_text())
    assert record["chapter"] == "06" and record["seed"] == 0 and "fit" in record["timings"]


def test_in_book_build(monkeypatch):
    assert not runtime.in_book_build()
    monkeypatch.setenv("KEXUE_BOOK", "1")
    assert runtime.in_book_build()


def test_smoke_runs_single_threaded_unless_told(monkeypatch):
    monkeypatch.setenv("KEXUE_PROFILE", "smoke")
    before = torch.get_num_threads()
    try:
        runtime.setup("1", smoke_seconds=1, full_seconds=1)
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("KEXUE_THREADS", "2")
        runtime.setup("1", smoke_seconds=1, full_seconds=1)
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("KEXUE_THREADS", "many")
        with pytest.raises(ValueError, match="KEXUE_THREADS='many'"):
            runtime.setup("1", smoke_seconds=1, full_seconds=1)
    finally:
        torch.set_num_threads(before)
