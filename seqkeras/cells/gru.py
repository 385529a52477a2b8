"""GRU cell, in both the original and the cuDNN ("reset after") form."""

import keras
from keras import ops

from seqkeras.cells.base import (
    RecurrentCell,
    is_activation,
    sigmoid_grad,
    split_gates,
    tanh_grad,
)


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

    @property
    def _analytic(self):
        """Whether `transition_gradient` has a closed form (tanh/σ, reset after)."""
        return (
            self.reset_after
            and is_activation(self.activation, "tanh")
            and is_activation(self.recurrent_activation, "sigmoid")
        )

    @property
    def transition_cache_sizes(self):
        """z, r, h̃ and U_h h_{t-1} + b_hr, each [B, units], when the derivative is analytic."""
        return [self.units] * 4 if self._analytic else []

    def transition(self, projected, recurrent, states, recurrent_mask=None):
        output, new_states, _ = self.transition_with_cache(
            projected, recurrent, states, recurrent_mask
        )
        return output, new_states

    def transition_with_cache(self, projected, recurrent, states, recurrent_mask=None):
        """The step; cache (analytic form only): [z, r, h̃, U_h h_{t-1} + b_hr], each [B, units]."""
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
        cache = [z, r, candidate, u["h"]] if self._analytic else []
        return h, [h], cache

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
        """Analytic derivative of `transition` for the tanh/sigmoid reset-after form.

        Reads z, r, h̃ and U_h h_{t-1} + b_hr from `cache` and h_{t-1} from `states`.
        """
        if not self._analytic:
            return super().transition_gradient(
                projected, recurrent, states, d_output, d_new_states, recurrent_mask, variables
            )
        cache = self.step_cache(projected, recurrent, states, cache)
        z, r, candidate, recurrent_h = cache
        h_prev = states[0]
        # h = z ⊙ h_{t-1} + (1 − z) ⊙ h̃
        d_h = d_output + d_new_states[0]
        d_h_prev = d_h * z
        d_candidate = tanh_grad(candidate, d_h - d_h_prev)
        d_z = sigmoid_grad(z, d_h * (h_prev - candidate))
        # h̃ = tanh(W_h x + r ⊙ (U_h h + b_hr) + b_h)
        d_r = sigmoid_grad(r, d_candidate * recurrent_h)
        d_projected = ops.concatenate([d_z, d_r, d_candidate], axis=-1)
        d_recurrent = ops.concatenate([d_z, d_r, d_candidate * r], axis=-1)
        return d_projected, d_recurrent, [d_h_prev], []

    def get_config(self):
        return {
            **super().get_config(),
            "activation": keras.activations.serialize(self.activation),
            "recurrent_activation": keras.activations.serialize(
                self.recurrent_activation
            ),
            "reset_after": self.reset_after,
        }
