"""GRU cell, in both the original and the cuDNN ("reset after") form."""

import keras
from keras import ops

from seqkeras.cells.base import RecurrentCell, is_activation, split_gates


@keras.saving.register_keras_serializable(package="seqkeras")
class GRUCell(RecurrentCell):
    """GRU step (SPEC §2)::

        z = σ(W_z x + U_z h + b_z)
        r = σ(W_r x + U_r h + b_r)
        h̃ = tanh(W_h x + U_h (r ⊙ h_{t-1}) + b_h)                 reset_after=False
        h̃ = tanh(W_h x + r ⊙ (U_h h_{t-1} + b_hr) + b_h)          reset_after=True
        h_t = z ⊙ h_{t-1} + (1 − z) ⊙ h̃

    Column order [z, r, h] as in `keras.layers.GRU`. With reset_after=True the
    recurrent projection carries its own bias (`recurrent_bias`, Keras's `bias[1]`);
    with reset_after=False, U_h is a separate `candidate_kernel` because it multiplies
    r ⊙ h rather than h.

    Args:
        units: size of h.
        activation: candidate activation, default "tanh".
        recurrent_activation: gate activation, default "sigmoid".
        reset_after: apply the reset gate after the recurrent matmul (cuDNN form).
        **kwargs: initializers, regularizers, constraints, `use_bias`.

    States: [h], [B, units].
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        reset_after=True,
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.reset_after = reset_after
        self.input_projection_size = 3 * units
        self.recurrent_projection_size = 3 * units if reset_after else 2 * units

    def build_transition_weights(self):
        self.candidate_kernel = None
        if self.reset_after:
            if self.use_bias:
                self.recurrent_bias = self.add_weight(
                    shape=(3 * self.units,),
                    name="recurrent_bias",
                    initializer=self.bias_initializer,
                    regularizer=self.bias_regularizer,
                    constraint=self.bias_constraint,
                )
        else:
            self.candidate_kernel = self.add_weight(
                shape=(self.units, self.units),
                name="candidate_kernel",
                initializer=self.recurrent_initializer,
                regularizer=self.recurrent_regularizer,
                constraint=self.recurrent_constraint,
            )

    @property
    def transition_weights(self):
        return [] if self.reset_after else [self.candidate_kernel]

    def transition(self, projected, recurrent, states, recurrent_mask=None):
        h_prev = states[0]
        x = split_gates(projected, ("z", "r", "h"))
        if self.reset_after:
            u = split_gates(recurrent, ("z", "r", "h"))
        else:
            u = split_gates(recurrent, ("z", "r"))
        z = self.recurrent_activation(x["z"] + u["z"])
        r = self.recurrent_activation(x["r"] + u["r"])
        if self.reset_after:
            candidate = self.activation(x["h"] + r * u["h"])
        else:
            h_seen = h_prev if recurrent_mask is None else h_prev * recurrent_mask
            candidate_kernel = ops.cast(self.candidate_kernel, h_seen.dtype)
            candidate = self.activation(x["h"] + ops.matmul(r * h_seen, candidate_kernel))
        h = z * h_prev + (1.0 - z) * candidate
        return h, [h]

    def transition_gradient(
        self, projected, recurrent, states, d_output, d_new_states, recurrent_mask, variables
    ):
        """Analytic derivative of `transition` for the tanh/sigmoid reset-after form."""
        analytic = (
            self.reset_after
            and is_activation(self.activation, "tanh")
            and is_activation(self.recurrent_activation, "sigmoid")
        )
        if not analytic:
            return super().transition_gradient(
                projected, recurrent, states, d_output, d_new_states, recurrent_mask, variables
            )
        h_prev = states[0]
        x = split_gates(projected, ("z", "r", "h"))
        u = split_gates(recurrent, ("z", "r", "h"))
        z = ops.sigmoid(x["z"] + u["z"])
        r = ops.sigmoid(x["r"] + u["r"])
        candidate = ops.tanh(x["h"] + r * u["h"])
        d_h = d_output + d_new_states[0]
        d_candidate = d_h * (1.0 - z) * (1.0 - candidate * candidate)
        d_z = d_h * (h_prev - candidate) * z * (1.0 - z)
        d_r = d_candidate * u["h"] * r * (1.0 - r)
        d_projected = ops.concatenate([d_z, d_r, d_candidate], axis=-1)
        d_recurrent = ops.concatenate([d_z, d_r, d_candidate * r], axis=-1)
        return d_projected, d_recurrent, [d_h * z], []

    def get_config(self):
        return {
            **super().get_config(),
            "activation": keras.activations.serialize(self.activation),
            "recurrent_activation": keras.activations.serialize(
                self.recurrent_activation
            ),
            "reset_after": self.reset_after,
        }
