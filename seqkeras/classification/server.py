"""Serving a sentence classifier: `ClassifierServer`, the classification `Exporter`.

`ClassifierServer(model, tokenizer, class_names).export("saved_models", "sst2_sentiment")`
writes ``saved_models/sst2_sentiment/<version>/`` atomically with warm-up records
(`seqkeras.serving.Exporter.export`). The tokenizer (a `tf.Module` of core TF ops and a
lookup table) and the Keras model are traced into one graph, so the SavedModel loads
with `tf.saved_model.load` where seqkeras is not installed.

Signature ``serving_default`` (also ``classify``):
    text string[None] → label string[None], probabilities float32[None, C],
    classes string[None, C] (the class names, repeated for every row so that TF
    Serving's row format returns them with each instance).

Decisions (the contract a client relies on):

* Texts are tokenized exactly as in training (the same tokenizer object; unknown
  words → ``<unk>``) and cut to their first `max_tokens` tokens (the pipeline's
  ``export.max_tokens``; when 0, the training ``data.max_length`` when it is set, else
  2,048): a very long request costs O(max_tokens) and is classified on its beginning.
* A text with no tokens (``""``, only spaces, or only punctuation a stripping
  tokenizer deletes) is an all-padding row: the encoder keeps its zero state, so the
  result is the model's fixed "no evidence" prediction — finite probabilities that
  sum to 1, never an error or NaN.
* An empty batch (``text = []``) returns empty outputs.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seqkeras.classification.spec import DEFAULT_SERVING_TOKENS
from seqkeras.serving import Exporter, WarmupRequest, frequent_words

CLASSIFY_SIGNATURE = "classify"


class ClassifierServer(Exporter):
    """The serving module: in-graph tokenization → classifier → label strings.

    Args:
        model: the classifier `keras.Model` (``int[B, T] → float32[B, C]``).
        tokenizer: its `seqkeras.data` tokenizer (vocabulary set).
        class_names: C strings, in the model's class order.
        max_tokens: texts are cut to their first this-many tokens.
        warmup_text: text of the warm-up request (sent with ``""``); None = the three
            most frequent vocabulary words.
    """

    def __init__(self, model, tokenizer, class_names, max_tokens=DEFAULT_SERVING_TOKENS, warmup_text=None,
                 name="classifier_server"):
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
        self.num_classes = num_classes
        self.class_names = tf.constant([str(c) for c in class_names], tf.string)
        self.max_tokens = int(max_tokens)
        self.warmup_text = warmup_text if warmup_text is not None else \
            " ".join(frequent_words(tokenizer.vocabulary, 3))
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

    def warmup_requests(self):
        return [WarmupRequest("serving_default", {"text": [self.warmup_text, ""]})]

    def check_outputs(self, outputs):
        """The warm-up probabilities must be finite, one column per class."""
        probabilities = outputs["serving_default"]["probabilities"]
        if probabilities.shape[-1] != self.num_classes or not np.all(np.isfinite(probabilities)):
            raise RuntimeError(f"exported classifier returned invalid probabilities {probabilities}")


def export_classifier(model, tokenizer, class_names, export_dir_base="saved_models", model_name="classifier",
                      version="auto", max_tokens=DEFAULT_SERVING_TOKENS, warmup_text=None, validate=True):
    """Write the classifier as ``<export_dir_base>/<model_name>/<version>/`` for TF Serving.

    Args:
        model, tokenizer, class_names, max_tokens, warmup_text: see `ClassifierServer`.
        export_dir_base: the export root, ``saved_models`` by default.
        model_name: the served model's name.
        version: "auto" (highest existing + 1) or an int.
        validate: reload the written SavedModel and replay the warm-up request before
            publishing the version (a broken export never appears).

    Returns:
        `pathlib.Path` of the version directory.

    Example:
        >>> path = export_classifier(model, tokenizer, ["negative", "positive"], "saved_models", "sst2")
        >>> tf.saved_model.load(str(path)).signatures["serving_default"](text=tf.constant(["great"]))
    """
    server = ClassifierServer(model, tokenizer, class_names, max_tokens, warmup_text)
    return server.export(export_dir_base, model_name, version=version, validate=validate)
