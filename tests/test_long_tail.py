import numpy as np
import pytest
import torch

from kexue_lab.losses.long_tail import exp_profile_counts, long_tailed_indices


def test_exp_profile_matches_cifar10_lt():
    # CIFAR-10-LT with imbalance 100 (Cao et al. 2019, LDAM-DRW; Menon et al. 2021): 12,406 images
    counts = exp_profile_counts(5000, 10, 100)
    assert counts[0] == 5000 and counts[-1] == 50 and sum(counts) == 12406
    assert all(a > b for a, b in zip(counts, counts[1:]))
    assert exp_profile_counts(7, 3, 1) == [7, 7, 7]


def test_long_tailed_indices_follow_the_profile_and_the_seed():
    y = torch.arange(10).repeat_interleave(500)
    idx = long_tailed_indices(y, 100)
    assert np.bincount(y.numpy()[idx]).tolist() == exp_profile_counts(500, 10, 100)
    assert np.array_equal(idx, long_tailed_indices(y, 100))
    assert not np.array_equal(idx, long_tailed_indices(y, 100, seed=1))
    rev = long_tailed_indices(y.numpy(), 10, n_max=200, order=range(9, -1, -1))
    assert np.bincount(y.numpy()[rev]).tolist() == exp_profile_counts(200, 10, 10)[::-1]


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (([0, 1, 1], 0.5), {}, "imbalance"),
        (([0, 2, 2], 10), {}, "every class"),
        (([0.0, 1.0], 10), {}, "integers"),
        (([0, 1, 1], 10), {"n_max": 2}, "class 0"),
        (([0, 1, 1], 10), {"order": [0, 0]}, "order"),
    ],
)
def test_long_tail_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        long_tailed_indices(*args, **kwargs)
