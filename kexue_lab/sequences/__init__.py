"""Part VII: sequences and language (chapters 32–40)."""
