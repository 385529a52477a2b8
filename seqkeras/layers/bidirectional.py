"""`Bidirectional`: a forward and a backward `Recurrent` over the same sequence."""

import copy

import keras
from keras import ops

from seqkeras.layers.recurrent import Recurrent

MERGE_MODES = {
    "concat": lambda a, b: ops.concatenate([a, b], axis=-1),
    "sum": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "ave": lambda a, b: (a + b) / 2.0,
}


@keras.saving.register_keras_serializable(package="seqkeras")
class Bidirectional(keras.layers.Layer):
    """Bidirectional RNN: y_t = merge(h→_t, h←_t).

    The backward layer is a copy of `layer` (own weights) with `go_backwards`
    flipped; its outputs are reversed back so that position t of both directions
    refers to input position t. With masks, padded steps of either direction carry
    the state, so right-padded batches give the same result as unpadded sequences.

    Args:
        layer: a `Recurrent` layer (the forward direction).
        merge_mode: "concat" ([..., 2·units]), "sum", "mul" or "ave".
        backward_layer: optional explicit backward `Recurrent`.

    Call args / returns: as `Recurrent`; with `return_state`, the states of the
    forward direction then those of the backward one.

    Example:
        >>> Bidirectional(Recurrent(GRUCell(8), return_sequences=True))(
        ...     np.zeros((2, 5, 3), "float32")).shape
        TensorShape([2, 5, 16])
    """

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        if isinstance(backward_layer, dict):
            backward_layer = keras.saving.deserialize_keras_object(backward_layer)
        if not isinstance(layer, Recurrent):
            raise ValueError(
                f"Argument `layer` must be a seqkeras Recurrent layer, received layer={layer!r}"
            )
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"Received an invalid value for argument `merge_mode`, expected one of "
                f"{sorted(MERGE_MODES)}, received merge_mode={merge_mode!r}"
            )
        if backward_layer is None:
            config = copy.deepcopy(layer.get_config())
            config["go_backwards"] = not layer.go_backwards
            config["name"] = "backward_" + layer.name
            backward_layer = Recurrent.from_config(config)
        self.forward_layer = layer
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True

    def build(self, sequences_shape, initial_state_shape=None):
        for layer in (self.forward_layer, self.backward_layer):
            if not layer.built:
                layer.build(sequences_shape)
        self.built = True

    @property
    def units(self):
        units = self.forward_layer.cell.output_size
        return 2 * units if self.merge_mode == "concat" else units

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, steps = sequences_shape[0], sequences_shape[1]
        output_shape = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if not self.return_state:
            return output_shape
        sizes = self.forward_layer.cell.state_size * 2
        return [output_shape] + [(batch, size) for size in sizes]

    def compute_mask(self, sequences, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * (2 * len(self.forward_layer.cell.state_size))
        return output_mask

    def call(self, sequences, initial_state=None, mask=None, training=False):
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        forward = self.forward_layer(
            sequences, initial_state=forward_state, mask=mask, training=training
        )
        backward = self.backward_layer(
            sequences, initial_state=backward_state, mask=mask, training=training
        )
        forward_states = backward_states = []
        if self.return_state:
            forward, *forward_states = forward
            backward, *backward_states = backward
        if self.return_sequences:
            backward = ops.flip(backward, axis=1)
        output = MERGE_MODES[self.merge_mode](forward, backward)
        if self.return_state:
            return [output, *forward_states, *backward_states]
        return output

    def reset_state(self):
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layer": keras.saving.serialize_keras_object(self.forward_layer),
                "merge_mode": self.merge_mode,
                "backward_layer": keras.saving.serialize_keras_object(self.backward_layer),
            }
        )
        return config
