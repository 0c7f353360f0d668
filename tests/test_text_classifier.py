import pytest
import torch

from kexue_lab.regularization import text_classifier as tc
from kexue_lab.train import accuracy


@pytest.fixture(scope="module")
def reviews():
    return tc.review_data(600, 200, maxlen=24, seed=3)


def test_review_data_is_a_disjoint_seeded_split(reviews):
    d = reviews
    assert d.x_train.shape == (600, 24) and d.x_test.shape == (200, 24)
    assert d.x_train.dtype == torch.int64 and set(d.y_train.tolist()) == {0, 1}
    assert int(d.x_train.max()) < len(d.vocab)
    again = tc.review_data(600, 200, maxlen=24, seed=3)
    assert torch.equal(again.x_train, d.x_train) and torch.equal(again.y_test, d.y_test)
    with pytest.raises(ValueError, match="n_train"):
        tc.review_data(40_000, 10)
    with pytest.raises(ValueError, match="n_test"):
        tc.review_data(10, 0)


def test_classifier_is_a_masked_mean_of_embeddings():
    torch.manual_seed(0)
    model = tc.CharClassifier(10, dim=4, hidden=5)
    ids = torch.tensor([[3, 4, 0, 0], [5, 0, 0, 0]])
    e = model.embedding.weight
    pooled = torch.stack([(e[3] + e[4]) / 2, e[5]])
    assert torch.allclose(model(ids), model.mlp(pooled), atol=1e-6)
    with pytest.raises(TypeError, match="ids"):
        model(ids.float())
    with pytest.raises(ValueError, match="vocab_size"):
        tc.CharClassifier(1)


def test_training_learns_and_attacks_lower_the_accuracy(reviews):
    d = reviews
    out = {}
    for method in ("plain", "fgm"):
        torch.manual_seed(0)
        model = tc.CharClassifier(len(d.vocab), dim=16, hidden=16)
        losses = tc.train_text_classifier(
            model, d.x_train, d.y_train, method=method, eps=1.0, epochs=3, lr=1e-2
        )
        assert losses[-1] < losses[0]
        clean = tc.embedding_attack_accuracy(model, d.x_test, d.y_test, 0.0)
        assert clean == pytest.approx(accuracy(model, d.x_test, d.y_test))
        fgm = tc.embedding_attack_accuracy(model, d.x_test, d.y_test, 2.0)
        pgd = tc.embedding_attack_accuracy(model, d.x_test, d.y_test, 2.0, attack="pgd")
        assert pgd <= fgm < clean
        assert all(p.grad is None for p in model.parameters())
        out[method] = model
    # FGM training changed the run: the two models differ
    assert not torch.equal(out["plain"].embedding.weight, out["fgm"].embedding.weight)
    with pytest.raises(ValueError, match="method"):
        tc.train_text_classifier(out["plain"], d.x_train, d.y_train, method="pgd")
    with pytest.raises(ValueError, match="attack"):
        tc.embedding_attack_accuracy(out["plain"], d.x_test, d.y_test, 1.0, attack="cw")
