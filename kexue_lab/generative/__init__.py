"""Part II: generative models (chapters 03–11)."""
