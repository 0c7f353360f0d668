import math

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from kexue_lab import data
from kexue_lab.generative.digit_score import digit_classifier, digit_score, fit_digit_classifier


@pytest.fixture(scope="module")
def scorer():
    return digit_classifier("digits")


def test_the_classifier_is_good_enough_to_score_with(scorer):
    net, acc = scorer
    assert acc > 0.93  # an MLP on UCI 8×8 digits: 96–98 % held out
    assert digit_classifier("digits")[0] is net  # cached: trained once per process


def test_real_digits_score_like_real_digits(scorer):
    net, _ = scorer
    x, y = data.load_digits()
    s = digit_score(net, x)
    assert s.covered == 10 and s.kl_uniform < 0.01
    assert s.confidence > 0.9 and s.inception > 8.0
    one = digit_score(net, x[y == 3])  # a generator collapsed onto one class
    assert one.covered == 1
    assert one.kl_uniform == pytest.approx(math.log(10), abs=0.05)
    assert one.inception < 1.3


def test_inception_score_matches_scipy(scorer):
    net, _ = scorer
    x = torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    s = digit_score(net, x)
    with torch.no_grad():
        p = net(x.reshape(300, -1)).softmax(1).double().numpy()
    ref = math.exp(np.mean([entropy(row, p.mean(0)) for row in p]))
    assert s.inception == pytest.approx(ref, rel=1e-6)  # float32 softmax rows sum to 1 ± 1e-7
    hist = np.bincount(p.argmax(1), minlength=10) / 300
    assert s.kl_uniform == pytest.approx(entropy(hist, np.full(10, 0.1)), abs=1e-12)
    assert s.confidence == pytest.approx(p.max(1).mean(), rel=1e-9)
    assert s.counts.tolist() == np.bincount(p.argmax(1), minlength=10).tolist()


def test_bad_input_names_the_argument(scorer):
    net, _ = scorer
    with pytest.raises(ValueError, match="64 pixels"):
        digit_score(net, torch.rand(5, 28, 28))
    with pytest.raises(ValueError, match="samples"):
        digit_score(net, torch.zeros(5, 64, dtype=torch.long))
    with pytest.raises(ValueError, match="min_fraction"):
        digit_score(net, torch.rand(5, 64), min_fraction=1.5)
    with pytest.raises(ValueError, match="dataset"):
        digit_classifier("cifar")
    with pytest.raises(ValueError, match="labels"):
        fit_digit_classifier(torch.rand(4, 64), torch.zeros(3, dtype=torch.long))
