import math

import numpy as np
import pytest
import torch

from kexue_lab.architecture import recurrent as sq

KINDS = ["rnn", "relu-rnn", "lstm", "gru"]


def _autograd_step(cell, x, state):
    """Autograd Jacobian of one PyTorch cell step with respect to the (joint) state."""
    if isinstance(cell, torch.nn.LSTMCell):
        n = cell.hidden_size

        def f(s):
            h, c = cell(x[None], (s[None, :n], s[None, n:]))
            return torch.cat([h[0], c[0]])

        return torch.autograd.functional.jacobian(f, torch.cat(state))
    return torch.autograd.functional.jacobian(lambda s: cell(x[None], s[None])[0], state)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bias", [True, False])
def test_step_jacobian_matches_autograd(kind, bias):
    gen = torch.Generator().manual_seed(3)
    cell = sq.init_cell(kind, 5, 7, seed=1)
    if not bias:
        cls = type(cell)
        kwargs = {"nonlinearity": cell.nonlinearity} if kind in ("rnn", "relu-rnn") else {}
        cell = cls(5, 7, bias=False, **kwargs).double()
    x = torch.randn(5, generator=gen, dtype=torch.float64)
    if kind == "lstm":
        state = (
            torch.randn(7, generator=gen, dtype=torch.float64),
            2 * torch.randn(7, generator=gen, dtype=torch.float64),
        )
    else:
        state = torch.randn(7, generator=gen, dtype=torch.float64)
    new, jac = sq.step_jacobian(cell, x, state)
    ref = _autograd_step(cell, x, state)
    assert jac.shape == ref.shape
    assert torch.allclose(jac, ref, atol=1e-12, rtol=0)
    # the new state is PyTorch's forward pass
    out = cell(x[None], tuple(s[None] for s in state) if kind == "lstm" else state[None])
    if kind == "lstm":
        assert torch.allclose(new[0], out[0][0]) and torch.allclose(new[1], out[1][0])
    else:
        assert torch.allclose(new, out[0])


def test_step_jacobian_accepts_float32_cells():
    cell = torch.nn.GRUCell(3, 4)
    new, jac = sq.step_jacobian(cell, torch.randn(3), torch.randn(4))
    assert jac.dtype == torch.float64 and jac.shape == (4, 4)


@pytest.mark.parametrize("kind", KINDS)
def test_jacobian_norms_equal_autograd_of_the_unrolled_map(kind):
    steps, n = 6, 5
    cell = sq.init_cell(kind, 3, n, seed=2)
    gen = torch.Generator().manual_seed(11)
    xs = torch.randn(
        steps, 3, generator=gen, dtype=torch.float64
    )  # what jacobian_norms draws with seed 11
    h0 = 0.3 * torch.ones(n, dtype=torch.float64)
    hidden = (h0, -h0) if kind == "lstm" else h0

    def unroll(s, t):
        state = (s[None, :n], s[None, n:]) if kind == "lstm" else s[None]
        for k in range(t):
            state = cell(xs[k][None], state)
        return torch.cat([state[0][0], state[1][0]]) if kind == "lstm" else state[0]

    s0 = torch.cat([h0, -h0]) if kind == "lstm" else h0
    expected = [
        torch.linalg.matrix_norm(
            torch.autograd.functional.jacobian(lambda s: unroll(s, t), s0), ord=2
        ).item()
        for t in range(1, steps + 1)
    ]
    got = sq.jacobian_norms(cell, steps, hidden, 11)
    assert got.shape == (steps,) and got.dtype == np.float64
    assert np.allclose(got, expected, rtol=1e-10, atol=0)


def test_jacobian_norms_spectral_norm_of_a_linear_rnn_power():
    # a ReLU cell whose pre-activations stay positive is linear: ∂h_t/∂h_0 = W_hh^t
    cell = torch.nn.RNNCell(2, 3, nonlinearity="relu").double()
    with torch.no_grad():
        cell.weight_hh.copy_(torch.tensor([[0.5, 0.2, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 0.7]]))
        cell.weight_ih.zero_()
        cell.bias_ih.fill_(10.0)
        cell.bias_hh.zero_()
    got = sq.jacobian_norms(cell, 4, None, 0)
    powers = [torch.linalg.matrix_power(cell.weight_hh.detach(), t) for t in range(1, 5)]
    assert np.allclose(got, [torch.linalg.matrix_norm(p, ord=2).item() for p in powers], rtol=1e-12)


def test_jacobian_norms_long_horizons_do_not_underflow():
    cell = sq.init_cell("rnn", 4, 8, radius=0.3)
    norms = sq.jacobian_norms(cell, 400, None, 0)
    assert np.all(norms > 0) and np.all(np.isfinite(norms))
    assert np.log10(norms[-1]) < -150  # far below what an unscaled product would keep


def test_jacobian_norms_seed_and_cell_untouched():
    cell = sq.init_cell("lstm", 3, 4, memory_bias=2.0)
    before = [p.clone() for p in cell.parameters()]
    a, b = sq.jacobian_norms(cell, 5, None, 1), sq.jacobian_norms(cell, 5, None, 1)
    c = sq.jacobian_norms(cell, 5, None, 2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert all(torch.equal(p, q) for p, q in zip(before, cell.parameters()))


def test_jacobian_norms_bad_input():
    rnn = sq.init_cell("rnn", 2, 3)
    with pytest.raises(TypeError, match="RNNCell, torch.nn.LSTMCell or torch.nn.GRUCell, got LSTM"):
        sq.jacobian_norms(torch.nn.LSTM(2, 3), 4)
    with pytest.raises(TypeError, match="got ProposedRNN"):
        sq.jacobian_norms(sq.ProposedRNN(2, 3), 4)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        sq.jacobian_norms(rnn, 0)
    with pytest.raises(TypeError, match="steps"):
        sq.jacobian_norms(rnn, 2.5)
    with pytest.raises(ValueError, match="seed"):
        sq.jacobian_norms(rnn, 3, None, -1)
    with pytest.raises(ValueError, match=r"hidden must have shape \(3,\)"):
        sq.jacobian_norms(rnn, 3, torch.zeros(4))
    with pytest.raises(TypeError, match="hidden must be a torch tensor"):
        sq.jacobian_norms(rnn, 3, [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="finite"):
        sq.jacobian_norms(rnn, 3, torch.tensor([0.0, math.nan, 0.0]))
    with pytest.raises(TypeError, match=r"tuple \(h0, c0\)"):
        sq.jacobian_norms(sq.init_cell("lstm", 2, 3), 3, torch.zeros(3))
    with pytest.raises(ValueError, match=r"hidden\[1\] \(c0\)"):
        sq.jacobian_norms(sq.init_cell("lstm", 2, 3), 3, (torch.zeros(3), torch.zeros(2)))
    with pytest.raises(ValueError, match="x must have shape"):
        sq.step_jacobian(rnn, torch.zeros(3, dtype=torch.float64), torch.zeros(3))


def test_init_cell_options_and_errors():
    cell = sq.init_cell("relu-rnn", 3, 16, seed=4, radius=1.7)
    assert torch.linalg.eigvals(cell.weight_hh).abs().max().item() == pytest.approx(1.7, rel=1e-12)
    assert cell.nonlinearity == "relu" and cell.weight_hh.dtype == torch.float64
    lstm = sq.init_cell("lstm", 3, 5, memory_bias=3.0)
    assert torch.allclose(
        lstm.bias_ih[5:10] + lstm.bias_hh[5:10], torch.full((5,), 3.0, dtype=torch.float64)
    )
    gru = sq.init_cell("gru", 3, 5, memory_bias=-1.0)
    assert torch.allclose(
        gru.bias_ih[5:10] + gru.bias_hh[5:10], torch.full((5,), -1.0, dtype=torch.float64)
    )
    assert torch.equal(
        sq.init_cell("gru", 3, 5, seed=9).weight_hh, sq.init_cell("gru", 3, 5, seed=9).weight_hh
    )
    with pytest.raises(ValueError, match="kind='transformer'"):
        sq.init_cell("transformer", 3, 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="radius applies"):
        sq.init_cell("lstm", 3, 5, radius=1.0)
    with pytest.raises(ValueError, match="memory_bias applies"):
        sq.init_cell("rnn", 3, 5, memory_bias=1.0)
    with pytest.raises(ValueError, match="radius must be > 0"):
        sq.init_cell("rnn", 3, 5, radius=0.0)


def test_tanh_gain_sup_against_a_dense_grid():
    for a, h in [(0.0, 1.0), (0.5, 1.0), (2.0, 1.0), (-1.0, 0.5), (0.3, -2.0)]:
        sup, at = sq.tanh_gain_sup(a, h)
        u = np.linspace(-60, 60, 600_001)
        grid = np.abs(u) / np.cosh(a + u * h) ** 2
        assert grid.max() <= sup * (1 + 1e-12)
        assert grid.max() == pytest.approx(sup, rel=1e-7)
        assert abs(at) / math.cosh(a + at * h) ** 2 == pytest.approx(sup, rel=1e-12)
    # a = 0: z* tanh z* = 1/2 and the sup scales like 1/|h|
    sup0, at0 = sq.tanh_gain_sup(0.0, 1.0)
    assert at0 * math.tanh(at0) == pytest.approx(0.5, abs=1e-14)
    assert sq.tanh_gain_sup(0.0, 0.25)[0] == pytest.approx(4 * sup0, rel=1e-12)
    with pytest.raises(ValueError, match="h_prev must be nonzero"):
        sq.tanh_gain_sup(0.0, 0.0)
    with pytest.raises(ValueError, match="a must be a finite"):
        sq.tanh_gain_sup(math.inf, 1.0)


def test_first_token_task():
    x, y = sq.first_token_task(500, 7, seed=3)
    assert x.shape == (500, 7, 2) and y.shape == (500,)
    assert torch.equal(x[:, 0, 0], 2.0 * y - 1.0) and not x[:, 1:, 0].any() and not x[:, 0, 1].any()
    assert x[:, 1:, 1].std().item() == pytest.approx(1.0, abs=0.05)
    assert 0.4 < y.float().mean() < 0.6
    x2, y2 = sq.first_token_task(500, 7, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    with pytest.raises(ValueError, match="length must be >= 2"):
        sq.first_token_task(5, 1)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "proposed"])
def test_sequence_classifier_shapes_and_gradients(kind):
    torch.manual_seed(0)
    model = sq.SequenceClassifier(kind, 6, memory_bias=2.0 if kind != "rnn" else None)
    x, y = sq.first_token_task(8, 5)
    logits = model(x)
    assert logits.shape == (8, 2)
    torch.nn.functional.cross_entropy(logits, y).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    with pytest.raises(ValueError, match="memory_bias applies"):
        sq.SequenceClassifier("rnn", 4, memory_bias=1.0)
    if kind == "proposed":  # the keep gate 1 − z starts at σ(2)
        z = torch.sigmoid(model.rnn.inp(torch.zeros(2))[:6])
        assert torch.allclose(1 - z, torch.full((6,), torch.sigmoid(torch.tensor(2.0)).item()))


def test_proposed_rnn_matches_its_equations():
    torch.manual_seed(1)
    cell = sq.ProposedRNN(2, 3).double()
    x = torch.randn(4, 5, 2, dtype=torch.float64)
    out, (h, c) = cell(x)
    w_in, b_in, w_rec = cell.inp.weight, cell.inp.bias, cell.rec.weight
    hh, cc = torch.zeros(4, 3, dtype=torch.float64), torch.zeros(4, 3, dtype=torch.float64)
    for t in range(5):
        pre = x[:, t] @ w_in.T + b_in + hh @ w_rec.T
        z, r, ch = torch.sigmoid(pre[:, :3]), torch.sigmoid(pre[:, 3:6]), torch.tanh(pre[:, 6:])
        cc = (1 - z) * cc + z * ch
        hh = r * cc
        assert torch.allclose(out[:, t], hh)
    assert torch.allclose(h, hh) and torch.allclose(c, cc)
    with pytest.raises(ValueError, match="x must have shape"):
        cell(torch.zeros(4, 5, 3, dtype=torch.float64))


def test_init_cell_scale_multiplies_the_recurrent_matrix():
    for kind in KINDS:
        base = sq.init_cell(kind, 3, 6, seed=2)
        scaled = sq.init_cell(
            kind, 3, 6, seed=2, scale=4.0, **({} if "rnn" in kind else {"memory_bias": 1.0})
        )
        assert torch.allclose(scaled.weight_hh, 4.0 * base.weight_hh, rtol=0, atol=1e-15)
        assert torch.equal(scaled.weight_ih, base.weight_ih)
    with pytest.raises(ValueError, match="scale must be > 0"):
        sq.init_cell("gru", 3, 5, scale=0.0)


def test_lstm_gates_replay_the_layer():
    torch.manual_seed(0)
    layer = torch.nn.LSTM(3, 5, batch_first=True).double()
    x = torch.randn(4, 7, 3, dtype=torch.float64)
    gates = sq.lstm_gates(layer, x)
    out, (h_n, c_n) = layer(x)
    assert set(gates) == set("ifgoch") and all(v.shape == (4, 7, 5) for v in gates.values())
    assert torch.allclose(gates["h"], out, atol=1e-14)  # PyTorch's own outputs as the reference
    assert torch.allclose(gates["c"][:, -1], c_n[0], atol=1e-14)
    for key in "ifo":
        assert bool(((gates[key] > 0) & (gates[key] < 1)).all())
    # zero weights: every gate is σ (or tanh) of its bias alone
    with torch.no_grad():
        for p in layer.parameters():
            p.zero_()
        layer.bias_ih_l0[5:10] = 2.0  # the forget block (gate order i, f, g, o)
    f = sq.lstm_gates(layer, x)["f"]
    assert torch.allclose(f, torch.full_like(f, 1 / (1 + math.exp(-2.0))), atol=1e-15)


def test_lstm_gates_bad_input():
    with pytest.raises(TypeError, match="torch.nn.LSTM"):
        sq.lstm_gates(torch.nn.GRU(3, 5, batch_first=True), torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="batch_first"):
        sq.lstm_gates(torch.nn.LSTM(3, 5), torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="x must have shape"):
        sq.lstm_gates(torch.nn.LSTM(3, 5, batch_first=True), torch.zeros(2, 3))
