"""Chapter 37: TinyGPT's three blocks, the bert4keras sampler, the Markov source and the
optimizer-state memory, each against an independent reference."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.stats import chisquare
from torch.nn import functional as F

from kexue_lab.sequences import adafactor, gpt

MEGA = dict(vocab=21128, d=1536, n_layers=48, ffn=6144, max_len=1024)


def _model(style: str, seed: int = 0) -> gpt.TinyGPT:
    torch.manual_seed(seed)
    return gpt.TinyGPT(11, 16, 2, 4, 24, 12, style).eval()


@pytest.mark.parametrize("style", gpt.STYLES)
def test_shapes_causality_and_count(style):
    m = _model(style)
    ids = torch.randint(0, 11, (3, 12))
    with torch.no_grad():
        out = m(ids)
        assert out.shape == (3, 12, 11)
        for t in range(11):
            changed = ids.clone()
            changed[:, t + 1 :] = (changed[:, t + 1 :] + 5) % 11
            assert torch.allclose(m(changed)[:, : t + 1], out[:, : t + 1], atol=1e-6)
            assert not torch.allclose(m(changed)[:, t + 1 :], out[:, t + 1 :], atol=1e-6)
    numel = sum(p.numel() for p in m.parameters())
    assert numel == gpt.param_count(11, 16, 2, 24, 12)


def _ln(x):
    return F.layer_norm(x, x.shape[-1:])


def _attention(block, x):
    """Causal multi-head attention written out from the block's weights."""
    b, t, d = x.shape
    h = block.attn.n_heads
    qkv = x @ block.attn.qkv.weight.T + block.attn.qkv.bias
    q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in qkv.split(d, -1))
    scores = q @ k.transpose(-1, -2) / math.sqrt(d // h)
    scores = scores.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), -torch.inf)
    y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
    return y @ block.attn.out.weight.T + block.attn.out.bias


def test_gpt2_ml_block_against_the_written_out_formula():
    m = _model("gpt2_ml")
    block = m.blocks[0]
    x = torch.randn(2, 12, 16)
    with torch.no_grad():
        got = block(x, gpt.causal_mask(12).expand(2, 12, 12))
        h = x + _attention(block, x)
        want = _ln(h + block.ff(_ln(h)))  # LN gains 1 and biases 0 at initialisation
        assert torch.allclose(got, want, atol=1e-5)
        # the whole model: LN after the embeddings, tied output without bias
        ids = torch.randint(0, 11, (2, 12))
        z = _ln(m.tok.weight[ids] + m.pos.weight[:12])
        for blk in m.blocks:
            z = blk(z, gpt.causal_mask(12).expand(2, 12, 12))
        assert torch.allclose(m(ids), z @ m.tok.weight.T, atol=1e-5)


def test_gpt2_has_a_final_layernorm_and_bert_normalises_each_block():
    ids = torch.randint(0, 11, (2, 12))
    with torch.no_grad():
        for style in ("bert", "gpt2_ml"):
            m = _model(style)
            x = m.ln(m.tok(ids) + m.pos.weight[:12])
            y = m.blocks[0](x, gpt.causal_mask(12).expand(2, 12, 12))
            assert torch.allclose(y.mean(-1), torch.zeros(2, 12), atol=1e-5)
        m = _model("gpt2")
        x = m.tok(ids) + m.pos.weight[:12]
        for blk in m.blocks:
            x = blk(x, gpt.causal_mask(12).expand(2, 12, 12))
        assert torch.allclose(m(ids), m.ln(x) @ m.tok.weight.T, atol=1e-5)


def test_mega_parameter_count_and_bad_input():
    assert gpt.param_count(**MEGA) == 1_393_941_504
    assert gpt.param_count(**{**MEGA, "vocab": 8021}) == 1_373_809_152
    shapes = adafactor.gpt2_ml_shapes(**MEGA)
    assert sum(math.prod(s) for s in shapes) == 1_393_941_504
    with pytest.raises(ValueError, match="style"):
        gpt.TinyGPT(11, 16, 2, 4, 24, 12, "gpt3")
    with pytest.raises(TypeError, match="d"):
        gpt.param_count(11, 16.0, 2, 24, 12)
    m = _model("gpt2_ml")
    with pytest.raises(TypeError, match="ids"):
        m(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="max_len"):
        m(torch.zeros(2, 13, dtype=torch.long))
    with pytest.raises(ValueError, match="vocab"):
        m(torch.full((2, 3), 11))


def _bert4keras_probs(p, top_k=None, top_p=None):
    """bert4keras ``random_sample``'s filtering, in numpy (argpartition, roll)."""
    p = p.copy()
    out = np.zeros_like(p)
    idx = np.tile(np.arange(p.shape[1]), (p.shape[0], 1))
    if top_k is not None:
        idx = p.argpartition(-top_k, axis=1)[:, -top_k:]
        p = np.take_along_axis(p, idx, axis=1)
        p /= p.sum(1, keepdims=True)
    if top_p is not None:
        order = p.argsort(axis=1)[:, ::-1]
        p, idx = np.take_along_axis(p, order, 1), np.take_along_axis(idx, order, 1)
        flag = np.roll(np.cumsum(p, axis=1) >= top_p, 1, axis=1)
        flag[:, 0] = False
        p[flag] = 0
        p /= p.sum(1, keepdims=True)
    np.put_along_axis(out, idx, p, axis=1)
    return out


def test_filter_probs_matches_bert4keras():
    logits = torch.randn(50, 30, dtype=torch.float64) * 2
    base = torch.softmax(logits, -1).numpy()
    for k, p in [(None, None), (5, None), (None, 0.7), (8, 0.9), (1, None), (30, 0.999)]:
        got = gpt.filter_probs(logits, k, p).numpy()
        assert np.allclose(got, _bert4keras_probs(base, k, p), atol=1e-12)
    p4 = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64))
    assert (gpt.filter_probs(p4, top_p=0.79) > 0).tolist() == [True, True, False, False]
    assert (gpt.filter_probs(p4, top_p=0.81) > 0).tolist() == [True, True, True, False]
    assert torch.allclose(gpt.filter_probs(p4, top_k=2)[:2], torch.tensor([5 / 8, 3 / 8]).double())
    cold, hot = gpt.filter_probs(p4, temperature=1e-3), gpt.filter_probs(p4, temperature=1e3)
    assert cold[0] > 1 - 1e-12 and torch.allclose(hot, torch.full((4,), 0.25).double(), atol=1e-3)
    for bad, match in [
        ({"top_k": 0}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
    ]:
        with pytest.raises(ValueError, match=match):
            gpt.filter_probs(p4, **bad)
    with pytest.raises(ValueError, match="temperature"):
        gpt.filter_probs(p4, temperature=0.0)
    with pytest.raises(TypeError, match="logits"):
        gpt.filter_probs(torch.tensor([1, 2]))


def test_sampler_is_exact_on_a_model_with_known_distributions():
    P = gpt.markov_chain(10, 2, 0.7, seed=3)
    model = gpt.markov_logits(P)
    prompt = [4, 7]
    true = torch.as_tensor(P[4 * 10 + 7])
    gen = torch.Generator().manual_seed(0)
    for k, p in [(None, None), (3, None), (None, 0.8), (5, 0.6)]:
        want = gpt.filter_probs(true.log(), k, p).numpy()
        draws = gpt.sample(model, prompt, 20000, top_k=k, top_p=p, max_len=1, generator=gen)
        counts = np.bincount(np.array(draws)[:, 0], minlength=10)
        assert np.all(counts[want == 0] == 0)  # never outside the top-k / the nucleus
        kept = want > 0
        assert chisquare(counts[kept], 20000 * want[kept]).pvalue > 1e-4
    # greedy = the argmax rollout
    greedy = gpt.sample(model, prompt, 3, top_k=1, max_len=6)
    ids, rollout = list(prompt), []
    for _ in range(6):
        ids.append(int(np.argmax(P[ids[-2] * 10 + ids[-1]])))
        rollout.append(ids[-1])
    assert greedy == [rollout] * 3


class _Counter(torch.nn.Module):
    """Emits token (last + 1) mod V with certainty: an end token arrives at a known step."""

    def __init__(self, vocab=6, wrapped=False):
        super().__init__()
        self.vocab, self.wrapped, self.w = vocab, wrapped, torch.nn.Parameter(torch.zeros(1))

    def forward(self, ids):
        logits = F.one_hot((ids + 1) % self.vocab, self.vocab).float() * 50.0
        return SimpleNamespace(logits=logits) if self.wrapped else logits


def test_end_token_min_len_and_models_with_logits_attribute():
    for wrapped in (False, True):
        model = _Counter(wrapped=wrapped)
        # prompt ends with 3: the counter emits 4, 5, 0, 1, … ; end_id 0 arrives at step 3
        assert gpt.sample(model, [3], 2, end_id=0, max_len=20) == [[4, 5, 0]] * 2
        # an end token before min_len does not stop the row: the next 0 is at step 9
        out = gpt.sample(model, [3], 1, end_id=0, min_len=4, max_len=20)
        assert out == [[4, 5, 0, 1, 2, 3, 4, 5, 0]]
        assert gpt.sample(model, [3], 1, end_id=0, min_len=4, max_len=7) == [[4, 5, 0, 1, 2, 3, 4]]
    model = _Counter()
    with pytest.raises(ValueError, match="min_len"):
        gpt.sample(model, [3], 1, min_len=5, max_len=4)
    with pytest.raises(ValueError, match="prompt_ids"):
        gpt.sample(model, [], 1)
    with pytest.raises(TypeError, match="n"):
        gpt.sample(model, [1], 1.5)
    with pytest.raises(TypeError, match="callable"):
        gpt.sample("model", [1], 1)
    with pytest.raises(TypeError, match="logits"):
        gpt.sample(lambda ids: ids.float(), [1], 1)
    m = _model("gpt2_ml").train()
    rows = gpt.sample(m, [1, 2], 4, top_k=3, max_len=8, generator=torch.Generator().manual_seed(1))
    assert len(rows) == 4 and all(len(r) == 8 for r in rows) and m.training


def test_markov_source_entropy_rate_and_sampler():
    P = gpt.markov_chain(5, 2, 0.5, seed=1)
    pi = gpt.stationary(P)
    assert pi.shape == (25,) and abs(pi.sum() - 1) < 1e-12
    # stationarity by direct simulation of the transition: π'(b, c) = Σ_a π(a, b) P(c | a, b)
    nxt = np.zeros(25)
    for s in range(25):
        for c in range(5):
            nxt[(s % 5) * 5 + c] += pi[s] * P[s, c]
    assert np.allclose(nxt, pi, atol=1e-12)
    H = -sum(pi[s] * sum(P[s, c] * math.log(P[s, c]) for c in range(5)) for s in range(25))
    assert gpt.entropy_rate(P) == pytest.approx(H, rel=1e-12)
    assert gpt.entropy_rate(np.full((16, 4), 0.25)) == pytest.approx(math.log(4), rel=1e-12)
    ids = gpt.markov_sample(P, 4000, 30, torch.Generator().manual_seed(0))
    assert ids.shape == (4000, 30) and int(ids.max()) < 5
    pair = (ids[:, :-1] * 5 + ids[:, 1:]).flatten().numpy()
    assert np.abs(np.bincount(pair, minlength=25) / len(pair) - pi).max() < 0.01
    nll = gpt.markov_nll(P, ids)
    assert abs(nll - H) < 0.02  # 112,000 tokens: standard error ≈ 0.003
    logits = torch.as_tensor(np.log(P))[ids[:, 1:-1] + 5 * ids[:, :-2]]
    assert gpt.lm_loss(
        torch.cat([logits[:, :1], logits, logits[:, :1]], 1), ids, 1
    ).item() == pytest.approx(nll)
    with pytest.raises(ValueError, match="P"):
        gpt.stationary(np.ones((4, 3)))
    with pytest.raises(ValueError, match="n_symbols"):
        gpt.markov_chain(1, 2, 0.5, seed=0)
    with pytest.raises(ValueError, match="length"):
        gpt.markov_sample(P, 3, 2, torch.Generator())


def test_optimizer_state_memory_closed_form_and_measured():
    m = _model("gpt2_ml")
    shapes = [p.shape for p in m.parameters()]
    for opt, closed in [
        (torch.optim.Adam(m.parameters()), adafactor.adam_state_numel(shapes)),
        (torch.optim.Adafactor(m.parameters()), adafactor.adafactor_state_numel(shapes)),
    ]:
        m(torch.randint(0, 11, (2, 12))).sum().backward()
        opt.step()
        assert adafactor.state_bytes(opt) == 4 * closed
    assert adafactor.adafactor_state_numel([(3, 4, 5)], step=False) == 3 * 9
    assert adafactor.adam_state_numel([(1536, 6144)], step=False) == 2 * 9_437_184
    assert adafactor.adafactor_state_numel([(1536, 6144)], step=False) == 7680
    with pytest.raises(ValueError, match="shapes"):
        adafactor.adam_state_numel([])
    with pytest.raises(ValueError, match="shapes"):
        adafactor.adafactor_state_numel([(3, 0)])
    with pytest.raises(TypeError, match="optimizer"):
        adafactor.state_bytes("adam")
