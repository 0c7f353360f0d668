"""Part IV: optimization (chapters 19–24)."""
