import json
import warnings

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from kexue_lab import plot, results  # noqa: E402


def test_style_sets_palette():
    plot.use_style()
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][0] == plot.PALETTE[0]


@pytest.mark.parametrize("shape", [(5, 8, 8), (5, 1, 8, 8), (5, 3, 8, 8)])
def test_image_grid_shapes(shape):
    ax = plot.image_grid(torch.rand(shape), ncols=3, title="x")
    assert ax.get_title() == "x"
    assert ax.images[0].get_array().shape[:2] == (2 * 9 + 1, 3 * 9 + 1)


def test_cjk_font_draws_chinese_without_missing_glyphs(recwarn):
    import matplotlib.pyplot as plt

    family = plot.use_cjk_font()
    if family is None:  # no CJK font on this machine: a warning, not a failure
        assert any("fonts-noto-cjk" in str(w.message) for w in recwarn)
        pytest.skip("no CJK font installed")
    assert family in plot.CJK_FAMILIES
    assert family in matplotlib.rcParams["font.sans-serif"]
    fig, ax = plt.subplots()
    ax.set_title("床前明月光 moonlight")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph … missing from font(s)" would raise here
        fig.canvas.draw()
    plt.close(fig)


def test_image_grid_errors():
    with pytest.raises(ValueError, match="shape"):
        plot.image_grid(np.zeros((2, 2, 8, 8)))
    with pytest.raises(ValueError, match="empty"):
        plot.image_grid(np.zeros((0, 8, 8)))
    with pytest.raises(ValueError, match="ncols"):
        plot.image_grid(np.zeros((1, 8, 8)), ncols=0)


def test_comparison_table_escapes():
    html = plot.comparison_table([("a<b", 1, 2)], ["q", "article", "ours"]).data
    assert "a&lt;b" in html and html.count("<tr>") == 2


def test_results_round_trip(tmp_path):
    assert results.load("12", folder=tmp_path) is None
    path = results.save(
        "12", {"acc": 0.9, "per": [1, 2]}, profile="full", seed=0, seconds=12.34, folder=tmp_path
    )
    rec = json.loads(path.read_text())
    assert (
        rec["metrics"]["acc"] == 0.9
        and rec["seconds"] == 12.3
        and "torch" in rec
        and "device" in rec
    )
    assert results.load("12", "full", folder=tmp_path)["metrics"]["per"] == [1, 2]


def test_results_errors(tmp_path):
    with pytest.raises(ValueError, match="profile"):
        results.save("12", {"a": 1}, profile="fast", seed=0, seconds=1, folder=tmp_path)
    with pytest.raises(ValueError, match="finite"):
        results.save("12", {"a": float("nan")}, profile="full", seed=0, seconds=1, folder=tmp_path)
    with pytest.raises(ValueError, match="metrics"):
        results.save("12", {}, profile="full", seed=0, seconds=1, folder=tmp_path)


def test_full_column(tmp_path):
    assert results.full_column("16", folder=tmp_path) == ({}, None)
    results.save(
        "16", {"train_len": 64, "acc": 0.9}, profile="full", seed=0, seconds=1.0, folder=tmp_path
    )
    record = results.load("16", folder=tmp_path)
    metrics, header = results.full_column("16", "L = {train_len}", folder=tmp_path)
    assert metrics == {"train_len": 64, "acc": 0.9}
    assert header == f"full run (L = 64, {record['device']}, {record['date']})"
    with pytest.raises(ValueError, match="names 'steps'.*lacks"):
        results.full_column("16", "{steps}", folder=tmp_path)


def test_figure_is_closed_so_it_shows_once():
    import matplotlib.pyplot as plt

    from kexue_lab.plot import figure

    fig, axes = figure(1, 2, figsize=(6, 3))
    assert len(axes) == 2 and not plt.fignum_exists(fig.number)
    fig, ax = figure()
    assert hasattr(ax, "plot")
    with pytest.raises(ValueError, match="ncols"):
        figure(1, 0)


def test_comparison_table_leaves_out_an_unrecorded_full_run():
    rows = [("q", "1", "2", "—")]
    html = plot.comparison_table(rows, ["quantity", "article", "ours", None]).data
    assert "<th>" in html and html.count("<th>") == 3 and "No record of the full profile" in html
    html = plot.comparison_table(
        rows, ["quantity", "article", "ours", None], note="runs CIFAR"
    ).data
    assert "runs CIFAR" in html
    full = plot.comparison_table(rows, ["quantity", "article", "ours", "full run (T4)"]).data
    assert full.count("<th>") == 4 and "No record" not in full
    with pytest.raises(ValueError, match="cells"):
        plot.comparison_table([("a", "b")], ["q", "article", "ours"])
