"""Export a sentence classifier as a TF Serving SavedModel (issue #5, SPEC §6).

`export_classifier(model, tokenizer, class_names, "saved_models", "sst2_sentiment")`
writes ``saved_models/sst2_sentiment/<version>/`` atomically (`seqkeras.serving.
write_versioned`), with warm-up records, holding a `ClassifierServer`: the tokenizer
(a `tf.Module` of core TF ops and a lookup table) and the Keras model are traced into
one graph, so the SavedModel loads with `tf.saved_model.load` where seqkeras is not
installed.

Signature ``serving_default`` (also ``classify``):
    text string[None] → label string[None], probabilities float32[None, C],
    classes string[None, C] (the class names, repeated for every row so that TF
    Serving's row format returns them with each instance).

Decisions (the contract a client relies on):

* Texts are tokenized exactly as in training (the same tokenizer object; unknown
  words → ``<unk>``) and cut to their first `max_tokens` tokens (the training
  ``data.max_length`` when it is set, else 2,048): a very long request costs
  O(max_tokens) and is classified on its beginning.
* A text with no tokens (``""``, only spaces, or only punctuation a stripping
  tokenizer deletes) is an all-padding row: the encoder keeps its zero state, so the
  result is the model's fixed "no evidence" prediction — finite probabilities that
  sum to 1, never an error or NaN.
* An empty batch (``text = []``) returns empty outputs.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from seqkeras import serving

CLASSIFY_SIGNATURE = "classify"
DEFAULT_MAX_TOKENS = 2048


class ClassifierServer(tf.Module):
    """The serving module: in-graph tokenization → classifier → label strings.

    Args:
        model: the classifier `keras.Model` (``int[B, T] → float32[B, C]``).
        tokenizer: its `seqkeras.data` tokenizer (vocabulary set).
        class_names: C strings, in the model's class order.
        max_tokens: texts are cut to their first this-many tokens.
    """

    def __init__(self, model, tokenizer, class_names, max_tokens=DEFAULT_MAX_TOKENS, name="classifier_server"):
        super().__init__(name=name)
        if getattr(tokenizer, "vocabulary", None) is None:
            raise ValueError("The tokenizer has no vocabulary: adapt it or load its vocabulary first")
        num_classes = int(model.output_shape[-1])
        if len(class_names) != num_classes:
            raise ValueError(f"Argument `class_names` must name the model's {num_classes} classes, "
                             f"received {len(class_names)}: {list(class_names)}")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, (int, np.integer)) or max_tokens < 1:
            raise ValueError(f"Argument `max_tokens` must be a positive integer, received max_tokens={max_tokens!r}")
        self.model = model
        self.tokenizer = tokenizer
        self.class_names = tf.constant([str(c) for c in class_names], tf.string)
        self.max_tokens = int(max_tokens)
        self.classify = tf.function(self._classify, input_signature=[tf.TensorSpec([None], tf.string, name="text")])

    def encode(self, text):
        """string[B] → int32[B, max(T, 1)], 0-padded, each row cut to `max_tokens`."""
        ids = self.tokenizer(text)[:, :self.max_tokens]
        dense = tf.cast(ids.to_tensor(default_value=0), tf.int32)
        return tf.pad(dense, [[0, 0], [0, tf.maximum(1 - tf.shape(dense)[1], 0)]])

    def _classify(self, text):
        probabilities = tf.cast(self.model(self.encode(text), training=False), tf.float32)
        batch = tf.shape(text)[0]
        return {
            "label": tf.gather(self.class_names, tf.argmax(probabilities, axis=-1)),
            "probabilities": probabilities,
            "classes": tf.tile(self.class_names[tf.newaxis], [batch, 1]),
        }

    def signatures(self):
        classify = self.classify.get_concrete_function()
        return {"serving_default": classify, CLASSIFY_SIGNATURE: classify}

    @staticmethod
    def warmup_requests(example="a good film"):
        return [serving.WarmupRequest("serving_default", {"text": [example, ""]})]


def _validate_export(directory, requests, num_classes):
    loaded = tf.saved_model.load(directory)
    missing = {"serving_default", CLASSIFY_SIGNATURE} - set(loaded.signatures)
    if missing:
        raise RuntimeError(f"exported SavedModel lacks signatures {sorted(missing)}")
    outputs = serving.run_warmup_requests(loaded, requests)["serving_default"]
    probabilities = outputs["probabilities"]
    if probabilities.shape[-1] != num_classes or not np.all(np.isfinite(probabilities)):
        raise RuntimeError(f"exported classifier returned invalid probabilities {probabilities}")


def export_classifier(model, tokenizer, class_names, export_dir_base="saved_models", model_name="classifier",
                      version="auto", max_tokens=DEFAULT_MAX_TOKENS, warmup_text=None, validate=True):
    """Write the classifier as ``<export_dir_base>/<model_name>/<version>/`` for TF Serving.

    Args:
        model, tokenizer, class_names, max_tokens: see `ClassifierServer`.
        export_dir_base: the export root, ``saved_models`` by default.
        model_name: the served model's name.
        version: "auto" (highest existing + 1) or an int.
        warmup_text: text of the warm-up request (plus ``""``); default: the three
            most frequent vocabulary words.
        validate: load the written SavedModel and run the warm-up request before
            publishing the version (a broken export never appears).

    Returns:
        `pathlib.Path` of the version directory.

    Example:
        >>> path = export_classifier(model, tokenizer, ["negative", "positive"], "saved_models", "sst2")
        >>> tf.saved_model.load(str(path)).signatures["serving_default"](text=tf.constant(["great"]))
    """
    server = ClassifierServer(model, tokenizer, class_names, max_tokens)
    if warmup_text is None:
        vocabulary = tokenizer.vocabulary
        warmup_text = " ".join(vocabulary.tokens[len(vocabulary.reserved):][:3]) or "a"
    requests = server.warmup_requests(warmup_text)
    return serving.write_versioned(
        server, os.fspath(export_dir_base), model_name, version=version, signatures=server.signatures(),
        warmup_requests=requests,
        validate=(lambda d: _validate_export(d, requests, len(class_names))) if validate else None,
    )
