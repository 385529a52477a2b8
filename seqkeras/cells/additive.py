"""Additive (CBOW) recurrence: a running sum of the inputs, no weights."""

import keras
from keras import ops

from seqkeras.cells.base import RecurrentCell


@keras.saving.register_keras_serializable(package="seqkeras")
class AdditiveCell(RecurrentCell):
    """Additive recurrence (Goldberg): s_t = s_{t-1} + x_t, or s_t = tanh(s_{t-1} + x_t).

    There are no weights at all: the input projection is the identity, so the input
    dimension must equal `units`.

    Args:
        units: size of s; must equal the last input dimension.
        nonlinear: apply tanh to the sum.

    Example:
        >>> Recurrent(AdditiveCell(3))(np.ones((1, 4, 3)))   # [[4., 4., 4.]]
    """

    def __init__(self, units, nonlinear=False, **kwargs):
        kwargs.setdefault("use_bias", False)
        super().__init__(units, **kwargs)
        self.nonlinear = nonlinear
        self.input_projection_size = units
        self.recurrent_projection_size = 0

    def build_input_projection(self, input_dim):
        if input_dim != self.units:
            raise ValueError(
                "AdditiveCell sums its inputs into the state, so the input dimension "
                f"must equal `units`; received units={self.units}, "
                f"input dimension={input_dim}"
            )

    def project_inputs(self, inputs):
        return ops.cast(inputs, self.compute_dtype)

    def transition(self, projected, recurrent, states, recurrent_mask=None):
        s = states[0] + projected
        if self.nonlinear:
            s = ops.tanh(s)
        return s, [s]

    def get_config(self):
        return {**super().get_config(), "nonlinear": self.nonlinear}
