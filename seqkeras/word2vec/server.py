"""SavedModel export: ``words → vectors`` with the vocabulary inside the graph.

Signature ``serving_default``:

* input ``words``: ``string[None]``;
* outputs ``vectors``: ``float32[None, D]`` and ``known``: ``bool[None]``; a word not
  in the vocabulary gets a zero vector and ``known = false``.

Words are standardized in the graph as in training (stripped; lower-cased unless the
corpus standardization was ``"none"``), so a client sends raw words. `WordVectorLookup`
is a `seqkeras.serving.Exporter`: its ``export`` writes atomically with TF Serving
warm-up requests, and the export loads with `tf.saved_model.load` alone.

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

from seqkeras.serving import Exporter, WarmupRequest

UNKNOWN_WORD = "<no-such-word>"     # the warm-up's out-of-vocabulary word
WARMUP_WORDS = 3                    # known words of the warm-up request (the most frequent)


class WordVectorLookup(Exporter):
    """Serving module mapping word strings to their vectors (zeros and ``known=False``
    for unknown words).

    Args:
        words: the vocabulary, most frequent first (V words).
        vectors: float32[V, D], row i the vector of ``words[i]``.
        lowercase: lower-case requests (as the corpus was standardized).
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray, lowercase: bool = True):
        super().__init__(name="word2vec")
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(words) or not len(words):
            raise ValueError(f"vectors must be [len(words) > 0, D], received {vectors.shape} for {len(words)} words")
        self.lowercase = lowercase
        self.dim = int(vectors.shape[1])
        self.sample = list(words)[:WARMUP_WORDS] + [UNKNOWN_WORD]
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

    def signatures(self) -> dict:
        return {"serving_default": self.lookup.get_concrete_function()}

    def warmup_requests(self) -> list[WarmupRequest]:
        """The most frequent words and one unknown word."""
        return [WarmupRequest("serving_default", {"words": np.array(self.sample, dtype=object)})]

    def check_outputs(self, outputs) -> None:
        out = outputs["serving_default"]
        if out["vectors"].shape != (len(self.sample), self.dim) or bool(out["known"][-1]):
            raise RuntimeError(f"exported word2vec model answers wrongly: {out}")


def export_vectors(words: Sequence[str], vectors: np.ndarray, base_dir: str | os.PathLike = "saved_models",
                   model_name: str = "word2vec", version: int | str = "auto",
                   lowercase: bool = True) -> pathlib.Path:
    """Write ``<base_dir>/<model_name>/<version>/`` atomically; returns the version dir.

    Args:
        words, vectors, lowercase: as `WordVectorLookup`.
        base_dir, model_name, version: as `seqkeras.serving.Exporter.export`.
    """
    return WordVectorLookup(words, vectors, lowercase).export(base_dir, model_name, version)
