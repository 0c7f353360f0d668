"""Part III, architecture (chapters 12–18).

Activations, initialization, normalization, recurrent cells, attention, embeddings.
"""
