"""Part III: activations, initialization, normalization, recurrent cells, attention, embeddings (chapters 12–18)."""
