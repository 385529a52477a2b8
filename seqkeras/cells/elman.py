"""Elman (simple) recurrent cell."""

import keras

from seqkeras.cells.base import RecurrentCell, check_choice

ELMAN_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


@keras.saving.register_keras_serializable(package="seqkeras")
class ElmanCell(RecurrentCell):
    """Elman RNN step: h_t = f(W x_t + U h_{t-1} + b).

    Args:
        units: size of h.
        activation: f, one of "tanh", "relu", "sigmoid", "linear".
        **kwargs: initializers, regularizers, constraints and `use_bias` as in
            `RecurrentCell`.

    Example:
        >>> cell = ElmanCell(4)
        >>> keras.layers.RNN(cell)(np.zeros((2, 5, 3))).shape   # [B, units]
        (2, 4)
    """

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, **kwargs)
        check_choice("activation", activation, ELMAN_ACTIVATIONS)
        self.activation_name = activation
        self.activation = keras.activations.get(activation)
        self.input_projection_size = units
        self.recurrent_projection_size = units

    def transition(self, projected, recurrent, states, recurrent_mask=None):
        h = self.activation(projected + recurrent)
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "activation": self.activation_name}
