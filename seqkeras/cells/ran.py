"""Recurrent Additive Network cell (Lee et al., 2017)."""

import keras
from keras import ops

from seqkeras.cells.base import RecurrentCell, check_choice, sigmoid_grad, split_gates, tanh_grad


@keras.saving.register_keras_serializable(package="seqkeras")
class RANCell(RecurrentCell):
    """RAN step::

        c̃_t = W_c x_t
        i_t = σ(W_i x_t + U_i h_{t-1} + b_i)
        f_t = σ(W_f x_t + U_f h_{t-1} + b_f)
        c_t = i_t ⊙ c̃_t + f_t ⊙ c_{t-1}
        h_t = g(c_t),  g ∈ {tanh, identity}

    Kernel columns are ordered [c̃, i, f]; U columns [i, f]; the bias covers i and f
    only (the c̃ columns of the projection carry no bias).

    Args:
        units: size of h and c.
        output_activation: g, "tanh" or "linear" (identity).

    States: [h, c], each [B, units].
    """

    def __init__(self, units, output_activation="tanh", **kwargs):
        super().__init__(units, **kwargs)
        check_choice("output_activation", output_activation, ("tanh", "linear"))
        self.output_activation = output_activation
        self.input_projection_size = 3 * units
        self.recurrent_projection_size = 2 * units

    @property
    def state_size(self):
        return [self.units, self.units]

    @property
    def bias_size(self):
        return 2 * self.units  # i and f only

    def project_inputs(self, inputs):
        projected = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            no_content_bias = ops.zeros((self.units,), dtype=self.bias.dtype)
            projected = projected + ops.concatenate([no_content_bias, self.bias])
        return projected

    @property
    def transition_cache_sizes(self):
        """c̃, i, f (and h = tanh(c) with the tanh output), each [B, units]."""
        return [self.units] * (4 if self.output_activation == "tanh" else 3)

    def transition(self, projected, recurrent, states, recurrent_mask=None):
        output, new_states, _ = self.transition_with_cache(projected, recurrent, states)
        return output, new_states

    def transition_with_cache(self, projected, recurrent, states, recurrent_mask=None):
        """The step; cache: [c̃, i, f] (+ [h] with the tanh output), each [B, units]."""
        x = split_gates(projected, ("content", "i", "f"))
        u = split_gates(recurrent, ("i", "f"))
        c_prev = states[1]
        i = ops.sigmoid(x["i"] + u["i"])
        f = ops.sigmoid(x["f"] + u["f"])
        c = i * x["content"] + f * c_prev
        cache = [x["content"], i, f]
        if self.output_activation == "tanh":
            h = ops.tanh(c)
            cache.append(h)
        else:
            h = c
        return h, [h, c], cache

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
        """Analytic derivative of `transition`, from the cache and c_{t-1}."""
        cache = self.step_cache(projected, recurrent, states, cache)
        content, i, f = cache[:3]
        c_prev = states[1]
        d_h = d_output + d_new_states[0]
        if self.output_activation == "tanh":
            d_c = d_new_states[1] + tanh_grad(cache[3], d_h)
        else:
            d_c = d_new_states[1] + d_h
        d_i = sigmoid_grad(i, d_c * content)
        d_f = sigmoid_grad(f, d_c * c_prev)
        d_projected = ops.concatenate([d_c * i, d_i, d_f], axis=-1)
        d_recurrent = ops.concatenate([d_i, d_f], axis=-1)
        return d_projected, d_recurrent, [None, d_c * f], []

    def get_config(self):
        return {**super().get_config(), "output_activation": self.output_activation}
