"""Mathematics that several chapters share, one home per formula.

* :mod:`.entropy`: entropies, softmax entropy, perplexity, discrete KL;
* :mod:`.sphere`: the angle between random directions, h_d, Laplace's method;
* :mod:`.jl`: Johnson–Lindenstrauss projections, tails and dimensions.
"""
