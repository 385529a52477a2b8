"""Serving a dense-feature sequence model: raw frames and their lengths in, labels out.

`SequenceServer(model, classes, warmup).export("saved_models", "japanese_vowels")` writes a
SavedModel holding the whole computation, normalization included (it is a layer of the
model); it loads with `tf.saved_model.load` where seqkeras is not installed.

Signature ``serving_default`` (also ``classify``):
    ``frames`` float32[B, T, D] (zero- or anything-padded after each row's length) and
    ``length`` int32[B] → ``label`` string[B], ``probabilities`` float32[B, C],
    ``classes`` string[B, C] (the class labels in column order, repeated per row so TF
    Serving's row format returns them with each instance); the frame labeller adds
    ``labels`` string[B, T], each frame's class ("" for frames at or past the length).

For the frame labeller, ``probabilities`` is the mean over the row's frames of each
frame's softmax of the emissions (the class shares of the stream) and ``label`` its
argmax; the per-frame ``labels`` are the model's decoding (Viterbi with a CRF head).

Requests (the contract a client relies on):

* ``length`` outside [0, T], or not one per row → InvalidArgument error naming the
  problem; the server stays up.
* a missing value (NaN or ±inf) in a valid frame reads as the training mean of its
  feature (0 after normalization), as in training; values past the length are ignored.
* ``length = 0``: the model's "no evidence" answer (the encoder's zero state) for the
  classifier; the frame labeller returns label "", uniform probabilities, no labels.
* an empty batch (B = 0) returns empty outputs; T = 0 is allowed (every length 0).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seqkeras.sequences.data import padded
from seqkeras.sequences.model import is_frame_labeller
from seqkeras.serving import Exporter, WarmupRequest

CLASSIFY_SIGNATURE = "classify"


class SequenceServer(Exporter):
    """The serving module of a trained frame-sequence classifier or frame labeller.

    Args:
        model: the model of `seqkeras.sequences.model.build_sequence_model`.
        classes: the C class labels, in the model's class order.
        warmup_frames: real sequences (float32[T_i, D] each) for the warm-up request.
    """

    def __init__(self, model, classes, warmup_frames, name="sequence_server"):
        super().__init__(name=name)
        self.model = model
        self.features = int(model.input["frames"].shape[-1])
        self.frame_labeller = is_frame_labeller(model)
        self.num_classes = len(classes)
        self.class_names = tf.constant([str(c) for c in classes], tf.string)
        self.warmup_frames = [np.asarray(f, np.float32) for f in warmup_frames]
        self.classify = tf.function(self._classify, input_signature=[
            tf.TensorSpec([None, None, self.features], tf.float32, name="frames"),
            tf.TensorSpec([None], tf.int32, name="length")])

    def _classify(self, frames, length):
        batch, steps = tf.shape(frames)[0], tf.shape(frames)[1]
        checks = [
            tf.debugging.assert_equal(tf.size(length), batch, message="send one length per row of frames"),
            tf.debugging.Assert(tf.reduce_all((length >= 0) & (length <= steps)), [
                "every length must be in [0, T], T = the frames sent per row; T =", steps, "lengths =", length],
                summarize=16),
        ]
        with tf.control_dependencies(checks):
            # The recurrent loop wants at least one step; a padded step is masked out.
            x = tf.pad(frames, [[0, 0], [0, tf.maximum(1 - steps, 0)], [0, 0]])
        out = self.model({"frames": x, "length": length}, training=False)
        rows = tf.tile(self.class_names[tf.newaxis], [batch, 1])
        if not self.frame_labeller:
            probabilities = tf.cast(out, tf.float32)
            return {"label": tf.gather(self.class_names, tf.argmax(probabilities, axis=-1)),
                    "probabilities": probabilities, "classes": rows}
        valid = tf.sequence_mask(length, steps)
        tags = out["tags"][:, :steps]
        labels = tf.where(valid, tf.gather(self.class_names, tags), "")
        shares = tf.nn.softmax(tf.cast(out["emissions"][:, :steps], tf.float32))
        counted = tf.reduce_sum(shares * tf.cast(valid, tf.float32)[:, :, None], axis=1)
        frames_per_row = tf.cast(length, tf.float32)[:, None]
        probabilities = tf.where(frames_per_row > 0, counted / tf.maximum(frames_per_row, 1.0),
                                 tf.fill(tf.shape(counted), 1.0 / self.num_classes))
        label = tf.where(length > 0, tf.gather(self.class_names, tf.argmax(probabilities, axis=-1)), "")
        return {"label": label, "probabilities": probabilities, "classes": rows, "labels": labels}

    def signatures(self):
        classify = self.classify.get_concrete_function()
        return {"serving_default": classify, CLASSIFY_SIGNATURE: classify}

    def warmup_requests(self):
        frames, lengths = padded(self.warmup_frames)
        return [WarmupRequest("serving_default", {"frames": frames, "length": lengths})]

    def check_outputs(self, outputs):
        """The warm-up answers: a class per row, finite probabilities summing to 1."""
        served = outputs["serving_default"]
        probabilities = served["probabilities"]
        if probabilities.shape != (len(self.warmup_frames), self.num_classes) or \
                not np.all(np.isfinite(probabilities)) or not np.allclose(probabilities.sum(-1), 1.0, atol=1e-4):
            raise RuntimeError(f"exported sequence model returned invalid probabilities {probabilities}")
        known = {c.decode() for c in self.class_names.numpy()}
        labels = [v.decode() if isinstance(v, bytes) else str(v) for v in np.ravel(served["label"])]
        if not set(labels) <= known:
            raise RuntimeError(f"exported sequence model returned unknown labels {labels}")
