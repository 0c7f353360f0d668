import pytest
import torch

from kexue_lab.train import History, batch_indices, fit


def _regression(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3
    return x, y


def _mse(model, xb, yb):
    loss = ((model(xb).squeeze(-1) - yb) ** 2).mean()
    return loss, {"abs": (model(xb).squeeze(-1) - yb).abs().mean()}


def test_fit_learns_linear_regression_and_records_metrics():
    torch.manual_seed(0)
    x, y = _regression()
    model = torch.nn.Linear(3, 1)
    hist = fit(model, _mse, x, y, epochs=60, batch_size=32, lr=0.05, seed=0,
               eval_fn=lambda m: {"val": float(((m(x).squeeze(-1) - y) ** 2).mean())})
    assert len(hist["loss"]) == 60 and len(hist["abs"]) == 60 and len(hist["val"]) == 60
    assert hist.last("val") < 1e-3 < hist["loss"][0]
    assert hist.seconds > 0


def test_fit_is_reproducible_with_the_same_seed():
    x, y = _regression()
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        model = torch.nn.Linear(3, 1)
        runs.append(fit(model, _mse, x, y, epochs=3, batch_size=50, seed=5)["loss"])
    assert runs[0] == runs[1]


def test_fit_clips_the_gradient_norm():
    x, y = _regression()
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    seen = []
    opt = torch.optim.SGD(model.parameters(), lr=0.0)

    def loss_fn(m, xb, yb):
        return ((m(xb).squeeze(-1) - yb) ** 2).mean() * 1e4

    orig = opt.step

    def step(*a, **k):
        seen.append(torch.sqrt(sum((p.grad**2).sum() for p in model.parameters())).item())
        return orig(*a, **k)

    opt.step = step
    fit(model, loss_fn, x, y, epochs=1, batch_size=64, optimizer=opt, clip_norm=0.5)
    assert seen and max(seen) <= 0.5 + 1e-5


def test_fit_stops_on_a_non_finite_loss():
    x, y = _regression()
    model = torch.nn.Linear(3, 1)
    with pytest.raises(FloatingPointError, match="nan"):
        fit(model, lambda m, xb, yb: m(xb).sum() * float("nan"), x, y, epochs=1, batch_size=8)


def test_fit_argument_errors():
    x, y = _regression()
    model = torch.nn.Linear(3, 1)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, _mse, x, y, epochs=0, batch_size=8)
    with pytest.raises(ValueError, match="same length"):
        fit(model, _mse, x, y[:10], epochs=1, batch_size=8)
    with pytest.raises(ValueError, match="clip_norm"):
        fit(model, _mse, x, y, epochs=1, batch_size=8, clip_norm=-1.0)


def test_batch_indices_cover_everything_once():
    gen = torch.Generator().manual_seed(0)
    batches = list(batch_indices(10, 3, generator=gen))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="batch_size"):
        list(batch_indices(10, 0, generator=gen))


def test_history_errors():
    h = History()
    h.add("loss", 1.0)
    with pytest.raises(KeyError, match="recorded"):
        h.last("acc")


def test_classification_loss_and_accuracy():
    from kexue_lab.train import accuracy, classification_loss

    torch.manual_seed(0)
    x = torch.randn(300, 2)
    y = (x[:, 0] > 0).long()
    model = torch.nn.Linear(2, 2)
    loss = classification_loss(model, x, y)
    assert torch.isclose(loss, torch.nn.functional.cross_entropy(model(x), y))
    fit(model, classification_loss, x, y, epochs=30, batch_size=32, lr=0.05)
    acc = accuracy(model, x, y, batch_size=7)
    assert acc == int((model(x).argmax(1) == y).sum()) / len(y) and acc > 0.95
    assert model.training
    with pytest.raises(ValueError, match="same length"):
        accuracy(model, x, y[:5])


def test_fit_can_hide_its_progress_bar(capsys, monkeypatch):
    monkeypatch.delenv("KEXUE_BOOK", raising=False)
    x, y = _regression()
    model = torch.nn.Linear(3, 1)
    fit(model, _mse, x, y, epochs=2, batch_size=64, show_progress=False, desc="hidden-bar")
    assert "hidden-bar" not in capsys.readouterr().err
    fit(model, _mse, x, y, epochs=2, batch_size=64, desc="shown-bar")
    assert "shown-bar" in capsys.readouterr().err
