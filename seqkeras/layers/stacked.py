"""`StackedRecurrent`: a deep (optionally bidirectional, residual) recurrent stack."""

import keras

from seqkeras.layers.bidirectional import Bidirectional
from seqkeras.layers.recurrent import Recurrent


@keras.saving.register_keras_serializable(package="seqkeras")
class StackedRecurrent(keras.layers.Layer):
    """A deep RNN: layer l reads the output sequence of layer l − 1.

    With `bidirectional=True` each level is a `Bidirectional` layer whose two
    directions both read the merged outputs of both directions below: the deep
    bidirectional RNN of Irsoy & Cardie. With `residual=True`, a level whose input
    and output widths match adds its input to its output (x_{l+1} = x_l + RNN_l(x_l)).

    Args:
        cells: list of `seqkeras.cells` instances, bottom first (each used once).
        bidirectional: wrap every level in `Bidirectional`.
        merge_mode: merge of the two directions (see `Bidirectional`).
        residual: residual connections where widths match.
        return_sequences: the top level returns [B, T, units] instead of [B, units].
        return_state: also return the final states of every level, bottom first
            (forward then backward states within a bidirectional level).
        stateful: carry states across batches (truncated BPTT); see `Recurrent`.
        dropout, recurrent_dropout: passed to every `Recurrent`.
        jit_compile: passed to every `Recurrent`.

    Example:
        >>> stack = StackedRecurrent([LSTMCell(32), LSTMCell(32)], bidirectional=True)
        >>> stack(np.zeros((2, 7, 16), "float32")).shape
        TensorShape([2, 64])
    """

    def __init__(
        self,
        cells,
        bidirectional=False,
        merge_mode="concat",
        residual=False,
        return_sequences=False,
        return_state=False,
        stateful=False,
        dropout=0.0,
        recurrent_dropout=0.0,
        jit_compile="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        cells = [
            keras.saving.deserialize_keras_object(c) if isinstance(c, dict) else c
            for c in cells
        ]
        if not cells:
            raise ValueError("Argument `cells` must be a non-empty list, received cells=[]")
        self.cells = cells
        self.bidirectional = bidirectional
        self.merge_mode = merge_mode
        self.residual = residual
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.stateful = stateful
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.jit_compile = jit_compile
        self.levels = []
        for depth, cell in enumerate(cells):
            top = depth == len(cells) - 1
            level = Recurrent(
                cell,
                return_sequences=return_sequences or not top,
                return_state=return_state,
                stateful=stateful,
                dropout=dropout,
                recurrent_dropout=recurrent_dropout,
                jit_compile=jit_compile,
                name=f"level_{depth}",
            )
            if bidirectional:
                level = Bidirectional(level, merge_mode=merge_mode, name=f"bidirectional_{depth}")
            self.levels.append(level)
        self.supports_masking = True

    def build(self, sequences_shape):
        shape = tuple(sequences_shape)
        for level in self.levels:
            if not level.built:
                level.build(shape)
            output_shape = level.compute_output_shape(shape)
            if self.return_state:
                output_shape = output_shape[0]
            shape = (shape[0], shape[1], output_shape[-1])
        self.built = True

    def compute_output_shape(self, sequences_shape):
        shape = tuple(sequences_shape)
        states = []
        for level in self.levels:
            output_shape = level.compute_output_shape(shape)
            if self.return_state:
                output_shape, *level_states = output_shape
                states += level_states
            shape = (shape[0], shape[1], output_shape[-1])
        return [output_shape, *states] if self.return_state else output_shape

    def compute_mask(self, sequences, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            count = sum(len(c.state_size) for c in self.cells) * (2 if self.bidirectional else 1)
            return [output_mask] + [None] * count
        return output_mask

    def call(self, sequences, mask=None, training=False):
        x = sequences
        states = []
        for depth, level in enumerate(self.levels):
            y = level(x, mask=mask, training=training)
            if self.return_state:
                y, *level_states = y
                states += level_states
            is_sequence = len(y.shape) == 3
            if self.residual and is_sequence and y.shape[-1] == x.shape[-1]:
                y = y + x
            x = y
        return [x, *states] if self.return_state else x

    def reset_state(self):
        for level in self.levels:
            level.reset_state()

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "cells": [keras.saving.serialize_keras_object(c) for c in self.cells],
                "bidirectional": self.bidirectional,
                "merge_mode": self.merge_mode,
                "residual": self.residual,
                "return_sequences": self.return_sequences,
                "return_state": self.return_state,
                "stateful": self.stateful,
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "jit_compile": self.jit_compile,
            }
        )
        return config
