import json
import re

import numpy as np
import pytest

from kexue_lab import widgets as w


def _view(a=1.0, kind="sin"):
    x = np.linspace(0, 1, 11)
    y = np.sin(a * x) if kind == "sin" else np.cos(a * x)
    return w.View(
        [
            w.Panel(
                [w.Curve(x, y, "curve")], title="t", xlabel="x", ylabel="y", vlines=[(0.5, "mid")]
            )
        ],
        readout=f"a={a}",
    )


def test_slider_grid_default_and_include():
    c = w.slider("a", 0.0, 1.0, steps=5, default=0.3, include=[0.77])
    assert c.values[0] == 0.0 and c.values[-1] == 1.0 and 0.3 in c.values and 0.77 in c.values
    assert c.default == 0.3
    log = w.slider("m", 8, 1024, steps=8, log=True, integer=True)
    assert (
        log.values[0] == 8
        and log.values[-1] == 1024
        and all(isinstance(v, int) for v in log.values)
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(name="1a", lo=0, hi=1), "identifier"),
        (dict(name="a", lo=1, hi=0), "lo must be < hi"),
        (dict(name="a", lo=0, hi=1, steps=1), "steps"),
        (dict(name="a", lo=0, hi=1, log=True), "log slider"),
        (dict(name="a", lo=0, hi=1, default=2), "must lie in"),
    ],
)
def test_slider_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        w.slider(**kwargs)


def test_choice():
    c = w.choice("kind", {"sine": "sin", "cosine": "cos"}, default="cos")
    assert c.values == ("sin", "cos") and c.default == "cos" and c.text("sin") == "sine"
    with pytest.raises(ValueError, match="at least 2"):
        w.choice("k", ["only"])
    with pytest.raises(ValueError, match="default"):
        w.choice("k", ["a", "b"], default="c")


def test_view_and_curve_checks():
    with pytest.raises(ValueError, match="same length"):
        w.Curve([1, 2], [1], "bad")
    with pytest.raises(ValueError, match="style"):
        w.Curve([1], [1], style="zigzag")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="1 to 3 panels"):
        w.View([])


def test_exploration_sweeps_every_grid_point():
    ex = w.exploration(w.slider("a", 0.5, 2.0, steps=4), w.choice("kind", ["sin", "cos"]))(_view)
    views = ex.sweep()
    assert len(views) == 8 and all(isinstance(v, w.View) for v in views.values())
    assert ex(a=2.0).readout == "a=2.0"
    with pytest.raises(ValueError, match="unknown parameter"):
        ex(b=1)


def test_exploration_rejects_a_function_that_returns_something_else():
    ex = w.exploration(w.slider("a", 0, 1, steps=2))(lambda a: 1)
    with pytest.raises(TypeError, match="View"):
        ex(a=0.0)


def test_grid_size_is_limited():
    with pytest.raises(ValueError, match="grid has"):
        w.exploration(w.slider("a", 0, 1, steps=100), w.slider("b", 0, 1, steps=100))(_view)


def test_static_html_embeds_every_frame():
    ex = w.exploration(
        w.slider("a", 0.5, 2.0, steps=4), w.choice("kind", ["sin", "cos"]), title="demo"
    )(_view)
    html = ex.static_html()
    payload = json.loads(re.search(r"var D = (\{.*?\});\n", html, re.S).group(1))
    assert len(payload["frames"]) == 8 and "0-1" in payload["frames"]
    assert payload["controls"][1]["choice"] is True
    assert 'type="range"' in html and "<select" in html and "Plotly.react" in html


def test_live_widgets_and_matplotlib_rendering():
    import matplotlib

    matplotlib.use("Agg")
    ex = w.exploration(w.slider("a", 0.5, 2.0, steps=4), w.choice("kind", ["sin", "cos"]))(_view)
    box = ex.live()
    sliders = box.children[0].children
    assert {s.description for s in sliders} == {"a", "kind"}
    fig = w.render_matplotlib(_view(1.5, "cos"))
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "t"


def test_show_picks_static_in_book_builds(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    ex = w.exploration(w.slider("a", 0.5, 2.0, steps=3))(_view)
    monkeypatch.setenv("KEXUE_BOOK", "1")
    ex.show()
    assert "Plotly.react" in shown[-1].data
    monkeypatch.delenv("KEXUE_BOOK")
    ex.show()
    assert shown[-1].__class__.__name__ == "VBox"
    with pytest.raises(ValueError, match="mode"):
        ex.show("both")  # type: ignore[arg-type]


def test_a_bare_exploration_displays_itself(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    monkeypatch.setenv("KEXUE_BOOK", "1")

    @w.exploration(w.slider("a", 0.5, 2.0, steps=3), title="decorated")
    def demo(a: float = 1.0) -> w.View:
        """A demo."""
        return _view(a, "sin")

    assert isinstance(demo, w.Exploration) and demo.__doc__ == "A demo."
    demo._ipython_display_()
    assert "Plotly.react" in shown[-1].data
    with pytest.raises(TypeError, match="controls"):
        w.exploration("a")
