"""`Recurrent`: the fast path that runs any seqkeras cell over a whole sequence."""

import keras
import tensorflow as tf
from keras import ops

from seqkeras.cells.base import RecurrentCell
from seqkeras.layers.recurrence import run_recurrence

# jit_compile="auto" compiles the loop with XLA up to this static batch size.
# bench/recurrent.py, 2×200 LSTM vs keras.layers.LSTM, three runs on 2 cores
# (2026-12-02): batch 20, XLA 1.50–1.59× vs no XLA 1.31–1.45×; batch 64 the two are
# level (XLA 1.07–1.18×, no XLA 1.07–1.11×), so XLA stays on up to 64.
JIT_AUTO_MAX_BATCH = 64


def _check_rate(name, value):
    if not 0.0 <= value < 1.0:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected a float "
            f"in [0, 1), received {name}={value!r}"
        )


@keras.saving.register_keras_serializable(package="seqkeras")
class Recurrent(keras.layers.Layer):
    """Run a seqkeras cell over a sequence: hoisted input projection + compiled loop.

    Drop-in for `keras.layers.RNN(cell)` with the same masking semantics (masked
    steps carry the state and repeat the previous output), but:

    1. W·x for all steps is ONE matmul before the loop (`cell.project_inputs`);
    2. the loop does only U·h and the cell's elementwise `transition`;
    3. the backward pass is hand-written (see `seqkeras.layers.recurrence`): dU, dW,
       db and dx are whole-sequence matmuls after the reverse loop;
    4. XLA fuses the elementwise work (`jit_compile="auto"`) for a static batch
       size ≤ 64 (`JIT_AUTO_MAX_BATCH`); larger batches run without XLA.

    Args:
        cell: a `seqkeras.cells.RecurrentCell` (or its serialized config).
        return_sequences: return outputs [B, T, units] instead of the last [B, units].
        return_state: also return the final states (h first).
        go_backwards: process the sequence in reverse; outputs come in processing
            order, as in Keras.
        stateful: carry the final states of batch i into batch i+1 (truncated BPTT);
            needs a fixed batch size; `reset_state()` zeroes them.
        dropout: rate of input dropout, one mask per sequence (variational).
        recurrent_dropout: rate of dropout on h_{t-1} inside U·h, one mask per
            sequence (Gal & Ghahramani).
        jit_compile: True (XLA-compile both loops), "step" (fuse the elementwise
            step only), False (no XLA) or "auto".
        seed: seed of the dropout masks.

    Call args:
        sequences: [B, T, D].
        initial_state: optional list of [B, S_i] tensors.
        mask: optional bool [B, T].
        training: enables dropout.

    Example:
        >>> layer = Recurrent(LSTMCell(16), return_sequences=True)
        >>> layer(np.zeros((4, 10, 8), "float32")).shape
        TensorShape([4, 10, 16])
    """

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        dropout=0.0,
        recurrent_dropout=0.0,
        jit_compile="auto",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        if not isinstance(cell, RecurrentCell):
            raise ValueError(
                "Argument `cell` must be a seqkeras.cells.RecurrentCell, received "
                f"cell={cell!r}"
            )
        _check_rate("dropout", dropout)
        _check_rate("recurrent_dropout", recurrent_dropout)
        if jit_compile not in (True, False, "step", "auto"):
            raise ValueError(
                "Argument `jit_compile` must be True, False, 'step' or 'auto', received "
                f"jit_compile={jit_compile!r}"
            )
        self.cell = cell
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.jit_compile = jit_compile
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self.states = None

    def build(self, sequences_shape, initial_state_shape=None):
        input_shape = sequences_shape
        if len(input_shape) != 3:
            raise ValueError(
                "Recurrent expects inputs of shape [batch, time, features], received "
                f"input_shape={input_shape}"
            )
        if not self.cell.built:
            self.cell.build(input_shape)
        if self.stateful:
            batch = input_shape[0]
            if batch is None:
                raise ValueError(
                    "A stateful Recurrent layer needs a fixed batch size (e.g. "
                    "keras.Input(batch_size=...)); received input_shape="
                    f"{input_shape}"
                )
            self.states = [
                self.add_weight(
                    shape=(batch, size), initializer="zeros", trainable=False, name=f"state_{i}"
                )
                for i, size in enumerate(self.cell.state_size)
            ]
        self.built = True

    def reset_state(self):
        """Zero the carried states of a stateful layer."""
        if self.states is not None:
            for state in self.states:
                state.assign(ops.zeros_like(state))

    reset_states = reset_state

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, steps = sequences_shape[0], sequences_shape[1]
        units = self.cell.output_size
        output_shape = (batch, steps, units) if self.return_sequences else (batch, units)
        if not self.return_state:
            return output_shape
        return [output_shape] + [(batch, size) for size in self.cell.state_size]

    def compute_mask(self, sequences, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.cell.state_size)
        return output_mask

    def _use_jit(self, inputs):
        if self.jit_compile != "auto":
            return self.jit_compile
        batch = inputs.shape[0]
        return batch is not None and batch <= JIT_AUTO_MAX_BATCH

    def _initial_states(self, inputs, initial_state):
        batch = ops.shape(inputs)[0]
        if initial_state is not None:
            initial_state = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(initial_state) != len(self.cell.state_size):
                raise ValueError(
                    f"{type(self.cell).__name__} has {len(self.cell.state_size)} states, "
                    f"received initial_state with {len(initial_state)} tensors"
                )
            for i, (state, size) in enumerate(zip(initial_state, self.cell.state_size)):
                if state.shape[-1] is not None and state.shape[-1] != size:
                    raise ValueError(
                        f"initial_state[{i}] must have last dimension {size}, "
                        f"received shape {tuple(state.shape)}"
                    )
            return initial_state
        if self.stateful:
            return [ops.convert_to_tensor(s) for s in self.states]
        return self.cell.get_initial_state(batch)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        inputs = ops.cast(sequences, self.compute_dtype)
        states = [ops.cast(s, self.compute_dtype) for s in self._initial_states(inputs, initial_state)]
        if self.go_backwards:
            inputs = ops.flip(inputs, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)
        if training and self.dropout > 0:
            keep = keras.random.dropout(
                ops.ones_like(inputs[:, :1, :]), self.dropout, seed=self.seed_generator
            )
            inputs = inputs * keep
        recurrent_mask = None
        if training and self.recurrent_dropout > 0:
            recurrent_mask = keras.random.dropout(
                ops.ones_like(states[0]), self.recurrent_dropout, seed=self.seed_generator
            )
        # Time-major before projecting: the input is narrower than its projection
        # (D vs 4·units for an LSTM), so its transpose and its gradient's move less.
        projected = self.cell.project_inputs(tf.transpose(inputs, [1, 0, 2]))
        time_mask = None if mask is None else tf.transpose(tf.cast(mask, tf.bool))
        outputs, final_states = run_recurrence(
            self.cell,
            projected,
            states,
            mask=time_mask,
            recurrent_mask=recurrent_mask,
            jit_compile=self._use_jit(inputs),
        )
        if self.stateful:
            for variable, value in zip(self.states, final_states):
                variable.assign(ops.cast(value, variable.dtype))
        output = tf.transpose(outputs, [1, 0, 2]) if self.return_sequences else outputs[-1]
        if self.return_state:
            return [output, *final_states]
        return output

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "cell": keras.saving.serialize_keras_object(self.cell),
                "return_sequences": self.return_sequences,
                "return_state": self.return_state,
                "go_backwards": self.go_backwards,
                "stateful": self.stateful,
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "jit_compile": self.jit_compile,
                "seed": self.seed,
            }
        )
        return config
