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


@pytest.mark.parametrize("value, expected", [("smoke", "smoke"), ("FULL", "full"), (" full ", "full")])
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
    with pytest.raises(ValueError, match="chapter"):
        runtime.setup("", smoke_seconds=1, full_seconds=1)
    with pytest.raises(ValueError, match="smoke_seconds"):
        runtime.setup("1", smoke_seconds=0, full_seconds=1)


def test_dataset_choice_and_override(monkeypatch):
    monkeypatch.setenv("KEXUE_PROFILE", "full")
    run = runtime.Session("6", "full", torch.device("cpu"), 0)
    assert run.dataset(smoke="mnist-5k", full="mnist") == "mnist"
    monkeypatch.setenv("KEXUE_FULL_DATA", "fashion-mnist")
    assert run.dataset(smoke="mnist-5k", full="mnist") == "fashion-mnist"
    monkeypatch.setenv("KEXUE_FULL_DATA", "imagenet")
    with pytest.raises(ValueError, match="KEXUE_FULL_DATA"):
        run.dataset(smoke="mnist-5k", full="mnist")
    smoke = runtime.Session("6", "smoke", torch.device("cpu"), 0)
    assert smoke.dataset(smoke="mnist-5k", full="mnist") == "mnist-5k"


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
