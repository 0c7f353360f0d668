"""Part V: regularization and robustness (chapters 25–28)."""
