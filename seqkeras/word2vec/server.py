"""SavedModel export: ``words → vectors`` with the vocabulary inside the graph.

Signature ``serving_default``:

* input ``words``: ``string[None]``;
* outputs ``vectors``: ``float32[None, D]`` and ``known``: ``bool[None]``; a word not
  in the vocabulary gets a zero vector and ``known = false``.

Words are standardized in the graph as in training (stripped; lower-cased unless the
corpus standardization was ``"none"``), so a client sends raw words. The model is
written with `seqkeras.serving.write_versioned` (atomic, versioned, TF Serving warmup
requests) and loads with `tf.saved_model.load` alone.

Example:
    >>> path = export_vectors(words, vectors, "saved_models")         # doctest: +SKIP
    >>> tf.saved_model.load(str(path)).signatures["serving_default"](
    ...     words=tf.constant(["king", "zzz"]))["known"]               # doctest: +SKIP
    <tf.Tensor: ... numpy=array([ True, False])>
"""

from __future__ import annotations

import os
import pathlib
from typing import Sequence

import numpy as np
import tensorflow as tf

from seqkeras.serving import WarmupRequest, write_versioned


class WordVectorLookup(tf.Module):
    """A tf.Module mapping word strings to their vectors (zeros and ``known=False``
    for unknown words)."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray, lowercase: bool = True):
        super().__init__(name="word2vec")
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words) or not len(words):
            raise ValueError(f"vectors must be [len(words) > 0, D], received {vectors.shape} for {len(words)} words")
        self.lowercase = lowercase
        self.dim = int(vectors.shape[1])
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(list(words)),
                                                tf.range(len(words), dtype=tf.int64)), default_value=-1)
        # row len(words) is the zero vector of unknown words
        self.vectors = tf.Variable(np.concatenate([vectors, np.zeros((1, self.dim), np.float32)]),
                                   trainable=False, name="vectors")
        self.unknown = tf.constant(len(words), tf.int64)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words")])
    def lookup(self, words):
        words = tf.strings.strip(words)
        if self.lowercase:
            words = tf.strings.lower(words, encoding="utf-8")
        ids = self.table.lookup(words)
        known = ids >= 0
        vectors = tf.gather(self.vectors, tf.where(known, ids, self.unknown))
        return {"vectors": vectors, "known": known}


def export_vectors(words: Sequence[str], vectors: np.ndarray, base_dir: str | os.PathLike = "saved_models",
                   model_name: str = "word2vec", version: int | str = "auto",
                   lowercase: bool = True) -> pathlib.Path:
    """Write ``<base_dir>/<model_name>/<version>/`` atomically; returns the version dir.

    The export is loaded back and run on its warmup request before the final rename,
    so a broken model is never published.
    """
    module = WordVectorLookup(words, vectors, lowercase)
    sample = [w for w in list(words)[:3]] + ["<no-such-word>"]

    def validate(directory: str) -> None:
        loaded = tf.saved_model.load(directory)
        out = loaded.signatures["serving_default"](words=tf.constant(sample))
        if out["vectors"].shape != (len(sample), module.dim) or bool(out["known"][-1]):
            raise RuntimeError(f"exported word2vec model answers wrongly: {out}")

    return write_versioned(module, base_dir, model_name, version=version,
                           signatures={"serving_default": module.lookup},
                           warmup_requests=[WarmupRequest("serving_default", {"words": np.array(sample, dtype=object)})],
                           validate=validate)
