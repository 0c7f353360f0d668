"""LCS, ROUGE and BLEU against rouge-score and NLTK (chapters 33, 39, 40)."""

import random

import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from rouge_score import rouge_scorer

from kexue_lab.sequences.metrics import bleu, lcs_length, rouge_l, rouge_n


def _lcs_dp(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = (
                table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
            )
    return table[-1][-1]


def _pairs(seed, n=60):
    rng = random.Random(seed)
    for _ in range(n):
        a = [rng.choice("abcdef") for _ in range(rng.randint(0, 70))]
        b = [rng.choice("abcdef") for _ in range(rng.randint(0, 70))]
        yield a, b


@pytest.mark.parametrize("seed", range(3))
def test_bit_parallel_lcs_matches_dynamic_programming(seed):
    for a, b in _pairs(seed):
        assert lcs_length(a, b) == _lcs_dp(a, b)


class _Split:
    def tokenize(self, text):
        return text.split()


@pytest.mark.parametrize("seed", range(3))
def test_rouge_matches_the_rouge_score_package(seed):
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=_Split())
    for a, b in _pairs(seed):
        if not a or not b:
            continue
        ref = scorer.score(" ".join(b), " ".join(a))  # (target, prediction)
        assert rouge_l(a, b) == pytest.approx(ref["rougeL"].fmeasure, abs=1e-12)
        assert rouge_n(a, b, 1) == pytest.approx(ref["rouge1"].fmeasure, abs=1e-12)
        detail = rouge_n(a, b, 2, detail=True)
        assert detail["p"] == pytest.approx(ref["rouge2"].precision, abs=1e-12)
        assert detail["r"] == pytest.approx(ref["rouge2"].recall, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_bleu_matches_nltk_method1(seed):
    smooth = SmoothingFunction().method1
    for a, b in _pairs(seed):
        if not a or not b:
            continue
        want = sentence_bleu([b], a, smoothing_function=smooth)
        assert bleu(a, b) == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_edge_cases_and_bad_input():
    assert rouge_l([], list("ab")) == 0.0
    assert rouge_l(list("abc"), list("abc")) == 1.0
    assert bleu(list("abcd"), list("abcd")) == pytest.approx(1.0)
    assert bleu(list("ab"), list("cd"), smooth=False) == 0.0
    with pytest.raises(TypeError, match="hyp must be a list of tokens"):
        rouge_l("abc", list("abc"))
    with pytest.raises(ValueError, match="beta"):
        rouge_l(list("a"), list("a"), beta=0)
    with pytest.raises(ValueError, match="max_n"):
        bleu(list("a"), list("a"), max_n=0)
