"""Part VI: losses (chapters 29–31)."""
