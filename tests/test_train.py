import pytest
import torch

from kexue_lab.train import History, batch_indices, classification_loss, fit


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
    hist = fit(
        model,
        _mse,
        x,
        y,
        epochs=60,
        batch_size=32,
        lr=0.05,
        seed=0,
        eval_fn=lambda m: {"val": float(((m(x).squeeze(-1) - y) ** 2).mean())},
    )
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


def test_grid_is_the_product_of_named_axes():
    from kexue_lab.train import grid

    assert grid(lr=[0.1, 1.0], norm=["none", "pre"]) == [
        {"lr": 0.1, "norm": "none"},
        {"lr": 0.1, "norm": "pre"},
        {"lr": 1.0, "norm": "none"},
        {"lr": 1.0, "norm": "pre"},
    ]
    with pytest.raises(ValueError, match="lr"):
        grid(lr=[])
    with pytest.raises(ValueError, match="axis"):
        grid()


def test_sweep_records_divergence_instead_of_raising():
    from kexue_lab.train import sweep

    def run_one(lr: float) -> float:
        if lr > 1:
            raise FloatingPointError("the loss became inf")
        return 1.0 / lr if lr > 0.5 else float("nan")

    points = sweep([{"lr": 0.1}, {"lr": 0.8}, {"lr": 2.0}], run_one)
    assert [p.diverged for p in points] == [True, False, True]
    assert points[1].result == 1.25 and "inf" in points[2].error
    with pytest.raises(ValueError, match="settings"):
        sweep([], run_one)
    with pytest.raises(TypeError, match="run_one"):
        sweep([{"lr": 1}], 3)
    with pytest.raises(ZeroDivisionError):  # other errors are real errors
        sweep([{"lr": 0}], lambda lr: 1 / lr)


def test_fit_takes_device_and_seed_from_the_chapter_context():
    from kexue_lab.runtime import Chapter

    x, y = torch.randn(64, 3), torch.randint(0, 2, (64,))
    runs = []
    for seed in (5, 5):
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 2)
        run = Chapter("12", "smoke", torch.device("cpu"), seed)
        runs.append(fit(model, classification_loss, x, y, epochs=2, batch_size=16, run=run)["loss"])
    assert runs[0] == runs[1]
