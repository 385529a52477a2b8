"""Elman (simple) recurrent cell."""

import keras

from seqkeras.cells.base import RecurrentCell, check_choice, relu_grad, sigmoid_grad, tanh_grad

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

    @property
    def transition_cache_sizes(self):
        """h_t [B, units]: f' is written in terms of f's output."""
        return [self.units]

    def transition(self, projected, recurrent, states, recurrent_mask=None):
        h = self.activation(projected + recurrent)
        return h, [h]

    def transition_with_cache(self, projected, recurrent, states, recurrent_mask=None):
        """The step; cache: [h_t], [B, units]."""
        h, new_states = self.transition(projected, recurrent, states, recurrent_mask)
        return h, new_states, [h]

    def transition_gradient(
        self,
        projected,
        recurrent,
        states,
        d_output,
        d_new_states,
        recurrent_mask,
        variables,
        cache=None,
    ):
        """Analytic derivative: d(Wx + Uh + b) = dh ⊙ f'(·), written via h = f(·) (cached)."""
        cache = self.step_cache(projected, recurrent, states, cache)
        (h,) = cache
        d_h = d_output + d_new_states[0]
        d_pre = {
            "tanh": lambda: tanh_grad(h, d_h),
            "sigmoid": lambda: sigmoid_grad(h, d_h),
            "relu": lambda: relu_grad(h, d_h),
            "linear": lambda: d_h,
        }[self.activation_name]()
        return d_pre, None, [None], []

    def get_config(self):
        return {**super().get_config(), "activation": self.activation_name}
