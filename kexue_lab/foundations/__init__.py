"""Part I: foundations, maximum likelihood and EM (chapters 01–02)."""
