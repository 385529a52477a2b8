"""Non-recurrent baselines, trained on the same training folds as the model.

* classify: each utterance pooled to the mean and standard deviation of its frames
  (2·D features), then multinomial logistic regression (`DenseClassifier` without a
  hidden layer, L2-regularised);
* label_frames: every frame classified alone by a one-hidden-layer MLP: no context at
  all, so the gap to the recurrent labeller is what context adds.

A missing value (NaN) reads as its column's training mean, as in the model.
`DenseClassifier` trains full-batch with Adam inside one `tf.function` (deterministic
for a seed): a few hundred steps on a few thousand rows take about a second.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from seqkeras.sequences.data import frame_statistics


def pooled_features(frames: list[np.ndarray]) -> np.ndarray:
    """float32[N, 2D]: each sequence's per-feature mean ⊕ standard deviation (NaN ignored)."""
    rows = [np.concatenate([np.nan_to_num(np.nanmean(f, axis=0)), np.nan_to_num(np.nanstd(f, axis=0))])
            for f in frames]
    return np.asarray(rows, np.float32).reshape(len(frames), -1)


class DenseClassifier:
    """Standardized inputs → optional ReLU hidden layers → softmax, L2 on the kernels.

    Args:
        num_classes: C.
        hidden: widths of the hidden layers (() = logistic regression).
        l2: weight of Σ‖W‖² in the loss.
        steps, learning_rate: full-batch Adam.
        seed: seeds the initial weights.
    """

    def __init__(self, num_classes: int, hidden: tuple[int, ...] = (), l2: float = 1e-3, steps: int = 500,
                 learning_rate: float = 0.02, seed: int = 0):
        self.num_classes, self.hidden, self.l2 = num_classes, tuple(hidden), l2
        self.steps, self.learning_rate, self.seed = steps, learning_rate, seed
        self.model, self.mean = None, None

    def fit(self, x: np.ndarray, y: np.ndarray) -> "DenseClassifier":
        mean, std = frame_statistics([np.asarray(x, np.float32)])
        self.mean = mean
        x = self._imputed(x)
        layers = [keras.Input((x.shape[1],)), keras.layers.Normalization(mean=mean, variance=std ** 2)]
        for i, width in enumerate(self.hidden):
            layers.append(keras.layers.Dense(width, activation="relu",
                                             kernel_initializer=keras.initializers.GlorotUniform(self.seed + i)))
        layers.append(keras.layers.Dense(self.num_classes,
                                         kernel_initializer=keras.initializers.GlorotUniform(self.seed + 99)))
        self.model = keras.Sequential(layers)
        optimizer = keras.optimizers.Adam(self.learning_rate)
        variables = self.model.trainable_variables
        optimizer.build(variables)
        kernels = [v for v in variables if v.path.endswith("kernel")]
        x, y = tf.constant(x), tf.constant(np.asarray(y, np.int32))

        @tf.function
        def train():
            for _ in tf.range(self.steps):
                with tf.GradientTape() as tape:
                    logits = self.model(x, training=True)
                    loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
                    loss += self.l2 * tf.add_n([tf.reduce_sum(tf.square(k)) for k in kernels])
                optimizer.apply(tape.gradient(loss, variables), variables)

        train()
        return self

    def _imputed(self, x) -> np.ndarray:
        """A missing value (NaN) → the training mean of its column."""
        x = np.asarray(x, np.float32)
        return np.where(np.isnan(x), self.mean, x)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """float32[N, C] class probabilities."""
        logits = self.model(tf.constant(self._imputed(x)), training=False)
        return tf.nn.softmax(logits).numpy()


def pooled_logistic_regression(train_frames, train_labels, num_classes: int, seed: int = 0) -> DenseClassifier:
    """The classify baseline: `pooled_features` → logistic regression."""
    return DenseClassifier(num_classes, l2=1e-3, steps=800, learning_rate=0.05, seed=seed).fit(
        pooled_features(train_frames), train_labels)


def frame_mlp(train_frames, train_labels, num_classes: int, seed: int = 0) -> DenseClassifier:
    """The label_frames baseline: every training frame alone → a 64-unit MLP."""
    x = np.concatenate(train_frames)
    y = np.concatenate([np.full(len(f), c) for f, c in zip(train_frames, train_labels)])
    return DenseClassifier(num_classes, hidden=(64,), l2=1e-4, steps=1500, learning_rate=0.01, seed=seed).fit(x, y)
