"""The long-range task model: input projection → one seqkeras cell → task head.

    inputs float32[B, T, features] ─ Dense(units) ─┐
    inputs int32[B, T] ─ Embedding(vocab, units) ──┴─ "recurrent" (`Recurrent`, one cell)
      ├─ task.kind "regression"        → Dense(1)                  float32[B, 1]
      ├─ task.kind "classes"           → Dense(classes, softmax)   float32[B, classes]
      └─ task.kind "sequence_classes"  → last `answer_steps` steps → Dense(classes, softmax)
                                                                   float32[B, answer_steps, classes]

T = ``task.sequence_length(lag)``. Used by the ``long_range`` pipeline application
(`seqkeras.tasks.application`) and by ``seqkeras study gradients``.
"""

import keras

from seqkeras.encoders import make_cell as make_registry_cell
from seqkeras.layers import Recurrent


def make_cell(name, units):
    """One seqkeras cell by name.

    Args:
        name: ``"elman"``, ``"lstm"``, ``"lstm:<variant>"`` (a Greff et al. variant,
            e.g. ``"lstm:nfg"``, ``"lstm:cifg"``), ``"gru"``, ``"ran"`` or ``"additive"``.
        units: the state size.

    Raises:
        ValueError: an unknown cell or variant; ``"lstm-<variant>"`` names its
            ``"lstm:<variant>"`` spelling.
    """
    if name.startswith("lstm-"):
        raise ValueError(f"Unknown cell {name!r}: write LSTM variants as "
                         f"{name.replace('-', ':', 1)!r}")
    return make_registry_cell(name, units)


def build_network(task, cell_name, units, lag):
    """Input projection (Dense or Embedding to `units`) → Recurrent(cell) → task head.

    Args:
        task: a `seqkeras.tasks.LongRangeTask`; inputs ``[B, T]`` token ids when it has
            a ``vocabulary_size``, else ``float32[B, T, task.features]``.
        cell_name: a `make_cell` name.
        units: the width of the projection and the cell's state.
        lag: the task's lag; T = ``task.sequence_length(lag)``.

    Returns:
        (uncompiled keras.Model, loss name).
    """
    steps = task.sequence_length(lag)
    if task.vocabulary_size:
        inputs = keras.Input((steps,), dtype="int32")
        x = keras.layers.Embedding(task.vocabulary_size, units)(inputs)
    else:
        inputs = keras.Input((steps, task.features))
        # the same linear input projection for every cell (AdditiveCell has no W)
        x = keras.layers.Dense(units)(inputs)
    cell = make_cell(cell_name, units)
    if task.kind == "sequence_classes":
        h = Recurrent(cell, return_sequences=True, name="recurrent")(x)
        h = keras.layers.Cropping1D((steps - task.answer_steps, 0))(h)
        outputs = keras.layers.Dense(task.classes, activation="softmax")(h)
        loss = "sparse_categorical_crossentropy"
    elif task.kind == "classes":
        h = Recurrent(cell, name="recurrent")(x)
        outputs = keras.layers.Dense(task.classes, activation="softmax")(h)
        loss = "sparse_categorical_crossentropy"
    else:
        h = Recurrent(cell, name="recurrent")(x)
        outputs = keras.layers.Dense(1)(h)
        loss = "mse"
    name = f"{cell_name}_{task.name}".replace(":", "_").replace("-", "_")
    return keras.Model(inputs, outputs, name=name), loss
