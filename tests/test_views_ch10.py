"""Chapter 10's exploration and figures (the exploration grid itself is swept by test_views.py)."""

from __future__ import annotations

import pytest
import torch

from kexue_lab import nn
from kexue_lab.generative.gan import normalized_critic
from kexue_lab.views import ch10


def _jump(view, name):
    part = view.readout.split(f"{name} jumps by ", 1)[1].split(";")[0]
    return float(part)


def test_kink_jumps_match_the_chapter():
    view = ch10.kink(s1=1.0, s2=3.0, b=1.0, eps=1e-4)
    assert _jump(view, "D/|D′|") == pytest.approx(1 / 3 - 1, abs=1e-4)
    assert _jump(view, "GN") == pytest.approx(0.25 - 0.5, abs=1e-4)
    assert _jump(view, "GraN") == pytest.approx(3 / (9 + 1e-4) - 1 / (1 + 1e-4), abs=1e-4)
    d = view.panels[0].curves[0].y
    assert max(abs(a - b) for a, b in zip(d[:-1], d[1:])) < 0.2  # D itself is continuous


def test_kink_without_a_jump():
    for kwargs in (dict(s1=2.0, s2=-2.0, b=1.0), dict(s1=1.0, s2=3.0, b=0.0)):
        view = ch10.kink(**kwargs)
        for name in ("D/|D′|", "GN", "GraN"):
            assert _jump(view, name) == pytest.approx(0.0, abs=1e-9)
    flat = ch10.kink(s1=0.0, s2=1.0, b=1.0)
    assert "zero slope" in flat.readout
    with pytest.raises(ValueError, match="eps"):
        ch10.kink(eps=0.0)


def test_critic_maps_and_ring_panels():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    plt.close("all")
    torch.manual_seed(0)
    D = nn.mlp([2, 16, 1], activation=lambda: torch.nn.LeakyReLU(0.2)).double()
    fig = ch10.critic_maps(
        lambda x: D(x)[:, 0],
        lambda x: normalized_critic(D, x, "gn"),
        lambda x: x.norm(dim=1),
        n=21,
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 6  # three maps, three colour bars
    ring = ch10.ring_panels(
        {"a": torch.zeros(5, 2).numpy(), "b": torch.ones(5, 2).numpy()},
        torch.eye(2).numpy(),
        titles={"a": "sub"},
    )
    assert len(ring.axes) == 2 and ring.axes[0].get_title() == "a\nsub"
    assert not plt.get_fignums()
    with pytest.raises(ValueError, match="non-empty"):
        ch10.ring_panels({}, torch.eye(2))
    with pytest.raises(ValueError, match="shape"):
        ch10.ring_panels({"a": torch.zeros(5, 3).numpy()}, torch.eye(2))
