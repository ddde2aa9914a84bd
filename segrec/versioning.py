"""The one model-version hasher: a short hex digest of everything a model was trained on, so the
same input and parameters give the same version (segmentation, ALS and customer value use it)."""

from __future__ import annotations

import hashlib
import json

import numpy as np

# Decimals float values are rounded to before hashing: parallel aggregation in the warehouse may
# change the last bits of a value between identical builds, which must not count as new data.
VERSION_DECIMALS = 10


def stable_floats(values: np.ndarray) -> np.ndarray:
    """``values`` as a version hashes them: rounded to ``VERSION_DECIMALS``, -0.0 as 0.0."""
    return np.round(np.asarray(values, dtype=float), VERSION_DECIMALS) + 0.0


def content_version(*parts: object, length: int = 16) -> str:
    """The first ``length`` hex characters of a SHA-256 over ``parts`` in order: bytes as they
    are, text as UTF-8, numpy arrays as their raw bytes, anything else (parameter dicts,
    lists of names) as JSON with sorted keys (``str`` for what JSON cannot hold)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, bytes):
            digest.update(part)
        elif isinstance(part, str):
            digest.update(part.encode())
        elif isinstance(part, np.ndarray):
            digest.update(part.tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:length]
