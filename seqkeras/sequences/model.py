"""Dense-feature sequence models: frames of feature vectors → a label, or a label per frame.

    frames float[B, T, D], length int[B] ─ "normalization" (FrameInputs: z = (x − μ) / σ,
        missing → 0, mask t < length) ─ "noise" (training only: z + N(0, s²)) ─
        "projection" (Dense, tanh; no embedding) ─ Dropout ─
        "recurrent" (StackedRecurrent: any cell, deep, optionally bidirectional)
      classify:      ─ "pooling" (final | mean | max) ─ Dropout ─ "probabilities" (softmax)
                     → float32[B, C]
      label_frames:  ─ Dropout ─ "emissions" (Dense C) ─┬─ "crf" (Viterbi) or "argmax" → "tags"
                     → {"emissions": float32[B, T, C], "tags": int32[B, T]}

The frame labeller is the tagger's head (`seqkeras.tagging.model`: `tagger_loss`, the
CRF of `seqkeras.layers.crf`, `ArgmaxTags`) over frames instead of word embeddings;
the classifier pools with the sentence classifier's `SequencePooling`.

The normalization is part of the model (μ, σ fitted on the training folds), so the
export takes raw frames. Padded steps (t ≥ length) are masked through the recurrent
stack: they never change a valid output.

Example:
    >>> model = build_sequence_model(12, 9, np.zeros(12), np.ones(12), units=8, projection=8)
    >>> model({"frames": np.zeros((2, 5, 12)), "length": np.array([5, 3])}).shape
    TensorShape([2, 9])
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from seqkeras.classification.model import SequencePooling
from seqkeras.encoders import make_cell
from seqkeras.layers import StackedRecurrent
from seqkeras.layers.crf import CRF
from seqkeras.tagging.model import ArgmaxTags, tagger_loss

TASKS = ("classify", "label_frames")


@keras.saving.register_keras_serializable(package="seqkeras")
class FrameInputs(keras.layers.Layer):
    """``[frames, length]`` → normalized frames carrying the mask ``t < length``.

    z_t = (x_t − μ) / σ per feature. A missing value (NaN or ±inf) becomes 0, i.e. the
    training mean, and every frame at or past `length` becomes 0, so padding may hold
    anything.

    Args:
        mean: μ, D floats (the training frames' mean).
        std: σ, D positive floats.

    Call args:
        inputs: ``[frames float[B, T, D], length int[B]]``.

    Returns:
        float32[B, T, D] with the Keras mask bool[B, T].
    """

    def __init__(self, mean, std, **kwargs):
        super().__init__(**kwargs)
        self.mean = [float(v) for v in np.asarray(mean).reshape(-1)]
        self.std = [float(v) for v in np.asarray(std).reshape(-1)]
        if len(self.mean) != len(self.std) or min(self.std, default=1.0) <= 0:
            raise ValueError(f"Arguments `mean` and `std` must be D values each, std > 0, received "
                             f"mean={self.mean}, std={self.std}")
        self.supports_masking = True

    @staticmethod
    def valid_steps(frames, length):
        """bool[B, T]: t < length (Keras ops: Keras also calls this on symbolic inputs)."""
        steps = ops.cumsum(ops.ones_like(frames[:, :, 0], dtype="int32"), axis=1) - 1
        return ops.less(steps, ops.expand_dims(ops.cast(length, "int32"), 1))

    def call(self, inputs):
        frames, length = inputs
        frames = tf.cast(frames, self.compute_dtype)
        z = (frames - tf.constant(self.mean, frames.dtype)) / tf.constant(self.std, frames.dtype)
        keep = tf.math.is_finite(z) & self.valid_steps(frames, length)[:, :, None]
        return tf.where(keep, z, tf.zeros_like(z))

    def compute_mask(self, inputs, mask=None):
        return self.valid_steps(*inputs)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std}


def build_sequence_model(features: int, num_classes: int, mean, std, task: str = "classify", cell: str = "gru",
                         cell_options: dict | None = None, layers: int = 1, units: int = 64,
                         bidirectional: bool = True, projection: int = 64, pooling: str = "final",
                         output: str = "softmax", noise: float = 0.0, dropout: float = 0.2,
                         recurrent_dropout: float = 0.0,
                         jit_compile="auto", name: str = "sequences") -> keras.Model:
    """Build (not compile) a frame-sequence classifier or frame labeller.

    Args:
        features: D, values per frame.
        num_classes: C ≥ 2.
        mean, std: float[D] the training frames' statistics (`FrameInputs`).
        task: ``"classify"`` (one label per sequence) or ``"label_frames"`` (one per frame).
        cell, cell_options, layers, units, bidirectional, recurrent_dropout, jit_compile:
            the `StackedRecurrent` encoder (`units` per direction).
        projection: width of the dense tanh projection of each frame (0 = none).
        pooling: classify: ``"final"`` (last state, both directions), ``"mean"`` or ``"max"``.
        output: label_frames: ``"softmax"`` or ``"crf"``.
        noise: standard deviation of the Gaussian noise added to the normalized frames
            in training (augmentation; 0 = none).
        dropout: on the projected frames and on the encoder outputs.

    Returns:
        `keras.Model` ``{"frames": float32[B, T, D], "length": int32[B]}`` → classify:
        float32[B, C] probabilities; label_frames: ``{"emissions": float32[B, T, C],
        "tags": int32[B, T]}`` (train with `frame_loss` on "emissions").
    """
    if task not in TASKS:
        raise ValueError(f"Argument `task` must be one of {TASKS}, received task={task!r}")
    if num_classes < 2:
        raise ValueError(f"Argument `num_classes` must be ≥ 2, received num_classes={num_classes}")
    if pooling not in ("final", "mean", "max"):
        raise ValueError(f"Argument `pooling` must be 'final', 'mean' or 'max', received pooling={pooling!r}")
    if output not in ("softmax", "crf"):
        raise ValueError(f"Argument `output` must be 'softmax' or 'crf', received output={output!r}")
    frames = keras.Input((None, features), dtype="float32", name="frames")
    length = keras.Input((), dtype="int32", name="length")
    inputs = {"frames": frames, "length": length}
    x = FrameInputs(mean, std, name="normalization")([frames, length])
    if noise:
        x = keras.layers.GaussianNoise(noise, name="noise")(x)
    if projection:
        x = keras.layers.Dense(projection, activation="tanh", name="projection")(x)
    x = keras.layers.Dropout(dropout, name="input_dropout")(x)
    cells = [make_cell(cell, units, cell_options) for _ in range(layers)]
    sequences = task == "label_frames" or pooling != "final"
    x = StackedRecurrent(cells, bidirectional=bidirectional, return_sequences=sequences,
                         recurrent_dropout=recurrent_dropout, jit_compile=jit_compile, name="recurrent")(x)
    if task == "classify":
        if pooling != "final":
            x = SequencePooling(pooling, name="pooling")(x)
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
        probabilities = keras.layers.Dense(num_classes, activation="softmax", dtype="float32",
                                           name="probabilities")(x)
        return keras.Model(inputs, probabilities, name=name)
    x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    emissions = keras.layers.Dense(num_classes, dtype="float32", name="emissions")(x)
    tags = (CRF(num_classes, name="crf") if output == "crf" else ArgmaxTags(name="argmax"))(emissions)
    return keras.Model(inputs, {"emissions": emissions, "tags": tags}, name=name)


def compile_sequence_model(model: keras.Model, optimizer) -> keras.Model:
    """Compile with the task's loss: cross-entropy of the probabilities (and accuracy),
    or the tagger's loss on the emissions (CRF NLL or masked cross-entropy per frame)."""
    if isinstance(model.output, dict):
        model.compile(optimizer=optimizer, loss={"emissions": tagger_loss(model)})
    else:
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def is_frame_labeller(model: keras.Model) -> bool:
    return isinstance(model.output, dict)


def predict_frames(model: keras.Model, frames: list[np.ndarray], batch: int = 256):
    """Run `model` on variable-length frame sequences (inference mode).

    Returns:
        classify: float32[N, C] probabilities. label_frames: (N arrays int[T_i] of tag
        ids, N arrays float32[T_i, C] of per-frame softmax of the emissions).
    """
    from seqkeras.sequences.data import padded

    call = _inference(model)
    probabilities, tags, frame_probabilities = [], [], []
    for start in range(0, len(frames), batch):
        chunk = frames[start:start + batch]
        x, lengths = padded(chunk)
        out = call(tf.constant(x), tf.constant(lengths))
        if is_frame_labeller(model):
            ids, soft = out["tags"].numpy(), tf.nn.softmax(out["emissions"]).numpy()
            tags += [ids[i, :n] for i, n in enumerate(lengths)]
            frame_probabilities += [soft[i, :n] for i, n in enumerate(lengths)]
        else:
            probabilities.append(np.asarray(out))
    if is_frame_labeller(model):
        return tags, frame_probabilities
    return np.concatenate(probabilities) if probabilities else np.zeros([0, model.output_shape[-1]], np.float32)


_CALLS: "weakref.WeakKeyDictionary[keras.Model, tf.types.experimental.GenericFunction]" = weakref.WeakKeyDictionary()


def _inference(model):
    """One traced inference call per model for every batch shape (no retracing per T)."""
    call = _CALLS.get(model)
    if call is None:
        features = model.input["frames"].shape[-1]
        call = tf.function(lambda frames, length: model({"frames": frames, "length": length}, training=False),
                           input_signature=[tf.TensorSpec([None, None, features], tf.float32),
                                            tf.TensorSpec([None], tf.int32)])
        _CALLS[model] = call
    return call
