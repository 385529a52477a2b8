"""Optimisers, learning-rate schedules, the distribution strategy and the standard
callbacks built from a `TrainingSpec`."""

from __future__ import annotations

import csv
import math
import pathlib

import keras


def distribution_strategy(name: str):
    """The `tf.distribute` strategy of ``training.distribution``.

    ``"none"``: the default strategy (one device). ``"mirrored"``:
    `tf.distribute.MirroredStrategy` over every local GPU, or over the logical CPU
    devices where there is no GPU (one CPU device unless the process split it; a
    strategy over one device is still correct, just not parallel). Each replica gets
    ``batch_size / replicas`` examples of every batch; gradients are all-reduced.
    """
    import tensorflow as tf

    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    raise ValueError(f"Argument `name` must be 'none' or 'mirrored', received name={name!r}")


def make_optimizer(training, loss_scale: float = 1.0) -> keras.optimizers.Optimizer:
    """The optimizer of a `TrainingSpec`, with gradient clipping by global norm.

    Args:
        training: a `seqkeras.pipeline.spec.TrainingSpec`.
        loss_scale: make the optimizer act as if the loss were multiplied by this
            factor (e.g. T for a loss summed over the T steps of a BPTT window while
            Keras computes the per-token mean): SGD's learning rate is × `loss_scale`
            (its update is linear in the gradient), Adam-type optimizers are
            scale-invariant; the clipping norm is ÷ `loss_scale` for all.
    """
    clip = training.clip_norm / loss_scale if training.clip_norm > 0 else None
    lr = training.learning_rate
    if training.optimizer == "sgd":
        return keras.optimizers.SGD(lr * loss_scale, momentum=training.momentum, global_clipnorm=clip)
    if training.optimizer == "adam":
        return keras.optimizers.Adam(lr, global_clipnorm=clip)
    if training.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=training.weight_decay, global_clipnorm=clip)
    if training.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr, global_clipnorm=clip)
    raise ValueError(f"unknown optimizer {training.optimizer!r}")


def schedule_callbacks(training, base_learning_rate: float, spent_seconds: float = 0.0) -> list[keras.callbacks.Callback]:
    """Callbacks implementing ``training.schedule``, the time budget and early stopping.

    `base_learning_rate` is the optimizer's initial rate (read before any restore, so
    a resumed run recomputes the same rate for its epoch). `spent_seconds` is the
    training time of the epochs a resumed run already finished: it counts against
    ``training.max_minutes``.
    """
    schedule = training.schedule
    callbacks = []
    if schedule.kind == "zaremba":
        def rate(epoch, lr=None):
            return float(base_learning_rate * schedule.decay ** max(0, epoch + 1 - schedule.decay_after))
        callbacks.append(keras.callbacks.LearningRateScheduler(rate))
    elif schedule.kind == "cosine":
        callbacks.append(CosineDecay(base_learning_rate, training.epochs, schedule.decay_after, schedule.decay))
    elif schedule.kind == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=schedule.decay,
                                                           patience=schedule.patience, verbose=1))
    if training.max_minutes > 0:
        callbacks.append(TimeBudget(training.max_minutes, spent_seconds))
    if training.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=training.early_stopping,
                                                       restore_best_weights=True))
    return callbacks


class CosineDecay(keras.callbacks.Callback):
    """Set the learning rate before every training step: constant for `hold_epochs`,
    then ``base × (final + (1 - final) × (1 + cos(π p)) / 2)`` where p goes from 0 to 1
    over the remaining epochs (fractional within an epoch when its number of steps is
    known). It depends only on (epoch, step), so a resumed run continues the curve.

    Args:
        base: the initial learning rate.
        epochs: the epochs of the whole training (p = 1 at the end of the last one).
        hold_epochs: epochs at the initial rate first.
        final: the last rate as a fraction of `base`.
    """

    def __init__(self, base: float, epochs: int, hold_epochs: int = 0, final: float = 0.0):
        super().__init__()
        self.base, self.epochs, self.hold_epochs, self.final = base, epochs, hold_epochs, final
        self._epoch = 0

    def rate(self, epoch: float) -> float:
        """The learning rate at (fractional) `epoch`."""
        span = max(self.epochs - self.hold_epochs, 1e-9)
        progress = min(max((epoch - self.hold_epochs) / span, 0.0), 1.0)
        return self.base * (self.final + (1.0 - self.final) * 0.5 * (1.0 + math.cos(math.pi * progress)))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        steps = self.params.get("steps") or 0
        self.model.optimizer.learning_rate = self.rate(self._epoch + (batch / steps if steps else 0.0))


class LearningRateLogger(keras.callbacks.Callback):
    """Put the learning rate of each epoch into the logs (CSV, TensorBoard)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


class EpochTimer(keras.callbacks.Callback):
    """Put the wall time of each epoch (seconds) into the logs."""

    def on_epoch_begin(self, epoch, logs=None):
        import time
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        import time
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


class TimeBudget(keras.callbacks.Callback):
    """Stop training after the epoch past which another epoch would overrun `minutes`.

    Args:
        minutes: the training budget.
        spent_seconds: budget already used by earlier runs of the same training
            (a resumed run continues the count instead of starting a new budget).
    """

    def __init__(self, minutes: float, spent_seconds: float = 0.0):
        super().__init__()
        self.seconds = 60.0 * minutes
        self.spent_seconds = spent_seconds

    def on_train_begin(self, logs=None):
        import time
        self._start = time.perf_counter() - self.spent_seconds
        self._epoch_start = self._start

    def on_epoch_begin(self, epoch, logs=None):
        import time
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        import time
        now = time.perf_counter()
        last = epoch + 1 >= (self.params.get("epochs") or 0)
        if not last and now - self._start + (now - self._epoch_start) > self.seconds:
            print(f"\ntime budget of {self.seconds / 60:.1f} min reached after epoch {epoch + 1}: stopping")
            self.model.stop_training = True


def read_history(csv_path: str | pathlib.Path) -> dict[str, list[float]]:
    """The CSVLogger history, one value per epoch (the last row of an epoch wins,
    so a resumed run's repeated epoch is counted once)."""
    path = pathlib.Path(csv_path)
    if not path.is_file():
        return {}
    rows = {}
    with open(path, newline="") as stream:
        for row in csv.DictReader(stream):
            try:
                rows[int(row["epoch"])] = row
            except (KeyError, ValueError):
                continue
    history: dict[str, list[float]] = {}
    for epoch in sorted(rows):
        for key, value in rows[epoch].items():
            try:
                history.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                history.setdefault(key, []).append(math.nan)
    return history


def plot_learning_curve(history: dict[str, list[float]], path: str | pathlib.Path, title: str = "") -> pathlib.Path | None:
    """Write a PNG of loss (and perplexity / bits per character) per epoch."""
    if not history.get("loss"):
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    extra = next((k for k in ("perplexity", "bits_per_character", "accuracy") if k in history), None)
    panels = [("loss", "loss")] + ([(extra, extra.replace("_", " "))] if extra else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    epochs = [int(e) + 1 for e in history.get("epoch", range(len(history["loss"])))]
    for ax, (key, label) in zip(axes[0], panels):
        ax.plot(epochs, history[key], "o-", label="train")
        if "val_" + key in history:
            ax.plot(epochs, history["val_" + key], "s-", label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
