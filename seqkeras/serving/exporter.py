"""`Exporter`: the base of every application's serving module, and the one export path.

An application's serving module subclasses `Exporter` and supplies only what is its
own: its `tf.function` signatures (`signatures`), one warm-up request per signature
(`warmup_requests`) and, optionally, a check of the warm-up outputs (`check_outputs`).
`Exporter.export` does the rest for every application, once:

1. save the module with its signatures into a hidden temporary version directory and
   write ``assets.extra/tf_serving_warmup_requests`` (`write_versioned`);
2. reload that directory with `tf.saved_model.load`, check that every signature is
   there, replay every warm-up request and hand the outputs to `check_outputs`;
3. only then rename it to ``<base_dir>/<model_name>/<version>/`` (atomic).

A broken export therefore never appears where TensorFlow Serving polls.

Example:
    >>> class Doubler(Exporter):
    ...     @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    ...     def double(self, x):
    ...         return {"y": 2.0 * x}
    ...     def signatures(self):
    ...         return {"serving_default": self.double.get_concrete_function()}
    ...     def warmup_requests(self):
    ...         return [WarmupRequest("serving_default", {"x": np.ones(2, np.float32)})]
    >>> Doubler().export("saved_models", "doubler")               # doctest: +SKIP
    PosixPath('saved_models/doubler/1')
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
import tensorflow as tf

from seqkeras.serving.versioning import write_versioned
from seqkeras.serving.warmup import WarmupRequest, run_warmup_requests


class Exporter(tf.Module):
    """A `tf.Module` holding one application's serving graph (see the module doc)."""

    def signatures(self) -> dict:
        """``{signature name: concrete function}``; must include ``serving_default``."""
        raise NotImplementedError(f"{type(self).__name__} must implement signatures()")

    def warmup_requests(self) -> list[WarmupRequest]:
        """The TF Serving warm-up requests: at least one per signature."""
        raise NotImplementedError(f"{type(self).__name__} must implement warmup_requests()")

    def check_outputs(self, outputs: dict[str, dict[str, np.ndarray]]) -> None:
        """Raise `RuntimeError` if the reloaded model's warm-up outputs are wrong.

        Args:
            outputs: ``{signature name: {output name: array}}`` of the last warm-up
                request of each signature, computed by the reloaded SavedModel.
        """

    def export(self, base_dir: str | os.PathLike = "saved_models", model_name: str = "model",
               version: int | str = "auto", validate: bool = True) -> pathlib.Path:
        """Write ``<base_dir>/<model_name>/<version>/`` atomically; returns its path.

        Args:
            base_dir: the export root (TF Serving's base path is ``base_dir/model_name``).
            model_name: the served model's name.
            version: ``"auto"`` (highest existing + 1) or an int.
            validate: reload, check signatures, replay warm-up before publishing.
        """
        signatures = self.signatures()
        if "serving_default" not in signatures:
            raise ValueError(f"{type(self).__name__}.signatures() has no 'serving_default': {sorted(signatures)}")
        requests = self.warmup_requests()
        unknown = {r.signature_name for r in requests} - set(signatures)
        if unknown:
            raise ValueError(f"{type(self).__name__}.warmup_requests() calls unknown signatures {sorted(unknown)}")
        # An alias (serving_default = generate) is covered by a request to either name.
        covered = {id(signatures[r.signature_name]) for r in requests}
        uncovered = [name for name, function in signatures.items() if id(function) not in covered]
        if uncovered:
            raise ValueError(f"{type(self).__name__}.warmup_requests() sends nothing to {sorted(uncovered)}")
        check = (lambda directory: validate_export(directory, signatures, requests, self.check_outputs)) \
            if validate else None
        return write_versioned(self, os.fspath(base_dir), model_name, version=version, signatures=signatures,
                               warmup_requests=requests, validate=check)


def validate_export(directory: str | os.PathLike, signatures, requests, check_outputs=None) -> dict:
    """Reload a written SavedModel, check its signature names, replay `requests`.

    Returns:
        ``{signature name: {output name: array}}`` of the last request per signature.

    Raises:
        RuntimeError: a signature is missing or `check_outputs` rejects the outputs.
    """
    loaded = tf.saved_model.load(os.fspath(directory))
    missing = set(signatures) - set(loaded.signatures)
    if missing:
        raise RuntimeError(f"the exported SavedModel lacks signatures {sorted(missing)}")
    outputs = run_warmup_requests(loaded, requests)
    if check_outputs is not None:
        check_outputs(outputs)
    return outputs


def frequent_words(vocabulary, count: int = 1, keep=lambda token: bool(token.strip())) -> list[str]:
    """The `count` most frequent ordinary tokens of a `Vocabulary` (for warm-up requests).

    Args:
        vocabulary: a `seqkeras.data.Vocabulary` (tokens most frequent first).
        keep: which tokens qualify (default: not blank).

    Returns:
        Up to `count` tokens; ``["a"]`` when the vocabulary has none that qualify.
    """
    tokens = [t for t in vocabulary.tokens[len(vocabulary.reserved):] if keep(t)][:count]
    return tokens or ["a"]
