"""UniLM mask, beam search, pair packing and the UniLM seq2seq model (chapters 33, 39, 40)."""

import itertools
import math

import pytest
import torch

from kexue_lab.sequences.seq2seq import (
    UniLMSeq2Seq,
    beam_search,
    beam_search_batch,
    pack_pairs,
    unilm_mask,
)


def test_unilm_mask_matches_its_definition_elementwise():
    g = torch.Generator().manual_seed(0)
    seg = torch.randint(0, 2, (5, 9), generator=g)
    seg, _ = seg.sort(dim=1)  # a source, then a target
    m = unilm_mask(seg)
    for b in range(5):
        for i in range(9):
            for j in range(9):
                want = seg[b, j] == 0 or (seg[b, i] == 1 and seg[b, j] == 1 and j <= i)
                assert bool(m[b, i, j]) == bool(want)


def test_unilm_mask_small_example():
    m = unilm_mask(torch.tensor([[0, 0, 1, 1]])).int()[0].tolist()
    assert m == [[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]


@pytest.mark.parametrize(
    "bad, err",
    [
        ([[0, 1]], TypeError),
        (torch.zeros(2, 3), ValueError),
        (torch.zeros(2, 3, 4, dtype=torch.long), ValueError),
        (torch.tensor([[0, 2]]), ValueError),
    ],
)
def test_unilm_mask_rejects_bad_input(bad, err):
    with pytest.raises(err, match="segment_ids"):
        unilm_mask(bad)


def _random_table_model(vocab: int, seed: int):
    """A next-token distribution for every prefix, drawn at random (an independent 'model')."""
    g = torch.Generator().manual_seed(seed)
    cache: dict[tuple[int, ...], torch.Tensor] = {}

    def dist(prefix: tuple[int, ...]) -> torch.Tensor:
        if prefix not in cache:
            cache[prefix] = torch.log_softmax(3 * torch.randn(vocab, generator=g), 0)
        return cache[prefix]

    def step(prefixes: torch.Tensor) -> torch.Tensor:
        return torch.stack([dist(tuple(p.tolist())) for p in prefixes])

    return dist, step


def _brute_force(dist, bos, eos, vocab, max_len):
    best, best_seq = -math.inf, None
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(vocab), repeat=n):
            if eos in seq[:-1]:
                continue
            score, prefix = 0.0, (bos,)
            for y in seq:
                score += float(dist(prefix)[y])
                prefix += (y,)
            finished = seq[-1] == eos
            if (finished or n == max_len) and score > best and (finished or best_seq is None):
                best, best_seq = score, list(seq)
    return best_seq, best


@pytest.mark.parametrize("seed", range(6))
def test_beam_search_with_a_wide_beam_is_exact(seed):
    vocab, eos, max_len = 3, 0, 4
    dist, step = _random_table_model(vocab, seed)
    seq, score = beam_search(step, 9, eos, k=vocab**max_len, max_len=max_len, return_score=True)
    want, want_score = _brute_force(dist, 9, eos, vocab, max_len)
    if want[-1] == eos:  # a finished sequence exists, and it is the most probable finished one
        assert seq == want
        assert score == pytest.approx(want_score, abs=1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_beam_width_one_is_greedy(seed):
    dist, step = _random_table_model(4, seed)
    prefix, greedy = (7,), []
    while len(greedy) < 6:
        y = int(dist(prefix).argmax())
        greedy.append(y)
        prefix += (y,)
        if y == 0:
            break
    assert beam_search(step, 7, 0, k=1, max_len=6) == greedy


def test_batched_search_equals_one_search_per_example():
    dists = [_random_table_model(5, s) for s in range(7)]

    def step(rows, gen):
        return torch.stack(
            [dists[r][0]((1,) + tuple(g.tolist())) for r, g in zip(rows.tolist(), gen)]
        )

    seqs, scores = beam_search_batch(step, 7, eos=0, k=3, max_len=5)
    for i, (dist, single) in enumerate(dists):
        s, sc = beam_search(single, 1, 0, k=3, max_len=5, return_score=True)
        assert seqs[i] == s
        assert float(scores[i]) == pytest.approx(sc)


def test_beam_search_rejects_bad_input():
    _, step = _random_table_model(3, 0)
    with pytest.raises(ValueError, match="k"):
        beam_search(step, 1, 0, k=0, max_len=3)
    with pytest.raises(TypeError, match="step_logprobs"):
        beam_search("model", 1, 0, k=1, max_len=3)
    with pytest.raises(ValueError, match="eos"):
        beam_search(step, 1, 5, k=1, max_len=3)
    with pytest.raises(ValueError, match="bos"):
        beam_search(step, [], 0, k=1, max_len=3)
    with pytest.raises(ValueError, match="step_logprobs must return"):
        beam_search(lambda p: torch.zeros(len(p) + 1, 3), 1, 0, k=1, max_len=3)


def test_pack_pairs_aligns_labels_with_the_next_target_token():
    ids, seg, labels = pack_pairs([[5, 6, 2], [7, 2]], [[8, 9, 2], [3, 2]], pad_id=0)
    assert ids.tolist() == [[5, 6, 2, 8, 9, 2], [7, 2, 3, 2, 0, 0]]
    assert seg.tolist() == [[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1]]
    assert labels.tolist() == [[-100, -100, 8, 9, 2, -100], [-100, 3, 2, -100, -100, -100]]
    with pytest.raises(ValueError, match="sources and targets"):
        pack_pairs([[1]], [])
    with pytest.raises(ValueError, match="at least one token"):
        pack_pairs([[1]], [[]])


def _model(seed=0):
    torch.manual_seed(seed)
    return UniLMSeq2Seq(12, d=16, n_layers=2, n_heads=2, max_len=20).eval()


def test_target_positions_do_not_see_the_future_but_see_the_whole_source():
    model = _model()
    ids, seg, _ = pack_pairs([[3, 4, 5, 1]], [[6, 7, 8, 1]], pad_id=0)
    base = model(ids, seg)
    later = ids.clone()
    later[0, 6] = 9  # change target token at position 6
    out = model(later, seg)
    assert torch.equal(out[0, :6], base[0, :6])
    assert not torch.allclose(out[0, 6:], base[0, 6:])
    src = ids.clone()
    src[0, 3] = 9  # the last source token changes every position, the first included
    assert not torch.allclose(model(src, seg)[0, 0], base[0, 0])


def test_left_and_right_padding_give_the_same_logits():
    model = _model(1)
    ids, seg, _ = pack_pairs([[3, 4, 1], [5, 1]], [[6, 1], [7, 8, 1]])
    right = model(ids, seg)
    left_ids = torch.tensor([[0, 5, 1, 7, 8, 1]])
    left_seg = torch.tensor([[0, 0, 0, 1, 1, 1]])
    assert torch.allclose(model(left_ids, left_seg)[0, 1:], right[1, :5], atol=1e-5)


def test_generate_greedy_matches_a_manual_greedy_loop():
    model = _model(2)
    prompts = [[3, 4, 5, 1], [6, 1]]
    got = model.generate(prompts, eos=1, k=1, max_len=6)
    for prompt, seq in zip(prompts, got):
        gen: list[int] = []
        while len(gen) < 6:
            ids = torch.tensor([prompt + gen])
            seg = torch.tensor([[0] * len(prompt) + [1] * len(gen)])
            y = int(model(ids, seg)[0, -1].argmax())
            gen.append(y)
            if y == 1:
                break
        assert seq == gen


def test_training_on_a_copy_task_lowers_the_loss():
    torch.manual_seed(0)
    model = UniLMSeq2Seq(10, d=32, n_layers=2, n_heads=2, max_len=16)
    g = torch.Generator().manual_seed(0)
    src = torch.randint(3, 10, (64, 4), generator=g).tolist()
    batch = pack_pairs([[2] + s + [1] for s in src], [s + [1] for s in src])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = float(model.loss(*batch).detach())
    for _ in range(300):
        opt.zero_grad()
        model.loss(*batch).backward()
        opt.step()
    assert float(model.loss(*batch).detach()) < 0.05 * first
    out = model.generate([[2] + s + [1] for s in src[:8]], eos=1, k=2, max_len=6)
    assert sum(o == s + [1] for o, s in zip(out, src[:8])) >= 6


def test_model_rejects_bad_input():
    with pytest.raises(ValueError, match="vocab_size"):
        UniLMSeq2Seq(1)
    with pytest.raises(ValueError, match="divisible"):
        UniLMSeq2Seq(10, d=10, n_heads=3)
    with pytest.raises(ValueError, match="norm"):
        UniLMSeq2Seq(10, d=8, n_heads=2, norm="middle")
    model = _model()
    with pytest.raises(ValueError, match="segment_ids"):
        model(torch.ones(1, 3, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="max_len"):
        model(torch.ones(1, 25, dtype=torch.long), torch.zeros(1, 25, dtype=torch.long))


def test_random_replace_rates_and_pool():
    from kexue_lab.sequences.seq2seq import random_replace

    g = torch.Generator().manual_seed(0)
    ids = torch.arange(40).repeat(4000, 1)  # distinct tokens: every replacement is visible
    mask = torch.zeros_like(ids, dtype=torch.bool)
    mask[:, 20:] = True
    out = random_replace(ids, mask, p_sample=0.5, p_token=0.3, generator=g)
    changed = out != ids
    assert not changed[:, :20].any()  # only masked positions change
    # a draw from the 20 masked tokens returns the same token w.p. 1/20
    assert float(changed[:, 20:].float().mean()) == pytest.approx(0.15 * 19 / 20, abs=0.004)
    assert set(out[:, 20:].unique().tolist()) <= set(range(20, 40))
    intact = float((~changed).all(dim=1).float().mean())  # 0.5 + 0.5·(1 − 0.3·19/20)^20
    assert intact == pytest.approx(0.5 + 0.5 * (1 - 0.3 * 19 / 20) ** 20, abs=0.02)
    whole = torch.ones_like(mask)
    out = random_replace(ids, mask, p_sample=1.0, p_token=1.0, pool=whole, generator=g)
    assert out[:, 20:].min() < 20  # the pool is the whole row
    with pytest.raises(ValueError, match="p_token"):
        random_replace(ids, mask, p_token=1.5)
    with pytest.raises(ValueError, match="mask"):
        random_replace(ids, mask.long())
