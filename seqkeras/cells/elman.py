"""Elman (simple) recurrent cell."""

import keras
from keras import ops

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

    def transition_gradient(
        self, projected, recurrent, states, d_output, d_new_states, recurrent_mask, variables
    ):
        """Analytic derivative: d(Wx + Uh + b) = dh ⊙ f'(·), written via h = f(·)."""
        h = self.activation(projected + recurrent)
        d_h = d_output + d_new_states[0]
        derivative = {
            "tanh": lambda: 1.0 - h * h,
            "sigmoid": lambda: h * (1.0 - h),
            "relu": lambda: ops.cast(h > 0, h.dtype),
            "linear": lambda: 1.0,
        }[self.activation_name]()
        d_pre = d_h * derivative
        return d_pre, d_pre, [ops.zeros_like(d_h)], []

    def get_config(self):
        return {**super().get_config(), "activation": self.activation_name}
