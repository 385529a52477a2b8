"""LSTM cell with every variant of Greff et al. as options."""

import keras
from keras import ops

from seqkeras.cells.base import (
    RecurrentCell,
    check_choice,
    is_activation,
    sigmoid_grad,
    split_gates,
    tanh_grad,
)

# Greff et al., "LSTM: A Search Space Odyssey": variant name -> options it sets.
LSTM_VARIANTS = {
    "vanilla": {},
    "peephole": {"peephole": True},
    "cifg": {"coupled_input_forget": True},
    "nig": {"input_gate": False},
    "nfg": {"forget_gate": False},
    "nog": {"output_gate": False},
    "niaf": {"input_activation": False},
    "noaf": {"output_activation": False},
}


@keras.saving.register_keras_serializable(package="seqkeras")
class LSTMCell(RecurrentCell):
    """LSTM step (SPEC §2), with the Greff et al. variants as options::

        i = σ(W_i x + U_i h + b_i [+ p_i ⊙ c_{t-1}])     (i = 1 without input gate)
        f = σ(W_f x + U_f h + b_f [+ p_f ⊙ c_{t-1}])     (f = 1 − i coupled, f = 1 without)
        g = tanh(W_g x + U_g h + b_g)                    (no tanh without input activation)
        c_t = f ⊙ c_{t-1} + i ⊙ g
        o = σ(W_o x + U_o h + b_o [+ p_o ⊙ c_t])         (o = 1 without output gate)
        h_t = o ⊙ tanh(c_t)                              (o ⊙ c_t without output activation)

    Gates that a variant removes have no weights at all. Kernel columns follow
    Keras's order [i, f, g, o] restricted to the gates present, so weights copy
    straight from `keras.layers.LSTM`.

    Args:
        units: size of h and c.
        activation: the input (g) and output (tanh(c)) activation, default "tanh".
        recurrent_activation: the gate activation σ, default "sigmoid".
        variant: shortcut for one of Greff et al.'s variants: "vanilla",
            "peephole", "cifg", "nig", "nfg", "nog", "niaf", "noaf"; its option is
            combined with the explicit ones below.
        peephole: add p_i ⊙ c_{t-1}, p_f ⊙ c_{t-1}, p_o ⊙ c_t to the gates.
        coupled_input_forget: CIFG, f = 1 − i.
        input_gate, forget_gate, output_gate: False removes the gate (NIG, NFG, NOG).
        input_activation: False drops tanh on g (NIAF).
        output_activation: False gives h = o ⊙ c (NOAF).
        unit_forget_bias: initialise the forget-gate bias to 1.
        **kwargs: initializers, regularizers, constraints, `use_bias`.

    States: [h, c], each [B, units].

    Example:
        >>> cell = LSTMCell(8, variant="cifg")
        >>> Recurrent(cell, return_sequences=True)(np.zeros((2, 5, 3))).shape
        (2, 5, 8)
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        variant="vanilla",
        peephole=False,
        coupled_input_forget=False,
        input_gate=True,
        forget_gate=True,
        output_gate=True,
        input_activation=True,
        output_activation=True,
        unit_forget_bias=True,
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        check_choice("variant", variant, LSTM_VARIANTS)
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.variant = variant
        self.peephole = peephole
        self.coupled_input_forget = coupled_input_forget
        self.input_gate = input_gate
        self.forget_gate = forget_gate
        self.output_gate = output_gate
        self.input_activation = input_activation
        self.output_activation = output_activation
        self.unit_forget_bias = unit_forget_bias
        options = {
            "peephole": peephole,
            "coupled_input_forget": coupled_input_forget,
            "input_gate": input_gate,
            "forget_gate": forget_gate,
            "output_gate": output_gate,
            "input_activation": input_activation,
            "output_activation": output_activation,
        }
        options.update(LSTM_VARIANTS[variant])
        if options["coupled_input_forget"] and not options["input_gate"]:
            raise ValueError(
                "`coupled_input_forget=True` sets f = 1 - i and needs the input gate; "
                "received input_gate=False"
            )
        if options["coupled_input_forget"] and not options["forget_gate"]:
            raise ValueError(
                "`coupled_input_forget=True` replaces the forget gate by 1 - i; "
                "received forget_gate=False as well"
            )
        self.options = options
        self.gate_names = tuple(
            name
            for name, present in (
                ("i", options["input_gate"]),
                ("f", options["forget_gate"] and not options["coupled_input_forget"]),
                ("g", True),
                ("o", options["output_gate"]),
            )
            if present
        )
        self.input_projection_size = len(self.gate_names) * units
        self.recurrent_projection_size = len(self.gate_names) * units

    @property
    def state_size(self):
        return [self.units, self.units]

    def build_input_projection(self, input_dim):
        if self.unit_forget_bias and "f" in self.gate_names:
            gate_initializer = self.bias_initializer
            units = self.units

            def bias_initializer(shape, dtype=None):
                parts = [
                    keras.initializers.Ones()((units,), dtype=dtype)
                    if name == "f"
                    else gate_initializer((units,), dtype=dtype)
                    for name in self.gate_names
                ]
                return ops.concatenate(parts)

            self.bias_initializer = bias_initializer
            try:
                super().build_input_projection(input_dim)
            finally:
                self.bias_initializer = gate_initializer
        else:
            super().build_input_projection(input_dim)

    def build_transition_weights(self):
        self.peephole_weights = {}
        if self.options["peephole"]:
            for name in ("i", "f", "o"):
                if name in self.gate_names:
                    self.peephole_weights[name] = self.add_weight(
                        shape=(self.units,),
                        name=f"peephole_{name}",
                        initializer="zeros",
                    )

    @property
    def transition_weights(self):
        return list(self.peephole_weights.values())

    def _gate(self, preactivation, name, c):
        if name in self.peephole_weights:
            peephole = ops.cast(self.peephole_weights[name], c.dtype)
            preactivation = preactivation + peephole * c
        return self.recurrent_activation(preactivation)

    @property
    def _analytic(self):
        """Whether `transition_gradient` has a closed form (tanh/σ, no peepholes)."""
        return (
            not self.options["peephole"]
            and is_activation(self.activation, "tanh")
            and is_activation(self.recurrent_activation, "sigmoid")
        )

    @property
    def _cache_names(self):
        """What the analytic backward reads, in cache order.

        The activated gates present (f only if it is a gate of its own: with CIFG
        it is 1 − i) and c_out = tanh(c_t) (c_t without output activation) when the
        output gate or the output activation needs it. c_{t-1} is a state, which
        the driver keeps anyway.
        """
        if not self._analytic:
            return ()
        names = self.gate_names
        if "o" in names or self.options["output_activation"]:
            names = names + ("c_out",)
        return names

    @property
    def transition_cache_sizes(self):
        """[units] per entry of `_cache_names` (at most i, f, g, o, c_out: 5 × units)."""
        return [self.units] * len(self._cache_names)

    def transition(self, projected, recurrent, states, recurrent_mask=None):
        output, new_states, _ = self.transition_with_cache(projected, recurrent, states)
        return output, new_states

    def transition_with_cache(self, projected, recurrent, states, recurrent_mask=None):
        """The step; cache: [B, units] tensors named by `_cache_names` (i, f, g, o, c_out)."""
        z = split_gates(projected + recurrent, self.gate_names)
        c_prev = states[1]
        parts = {}
        i = parts["i"] = self._gate(z["i"], "i", c_prev) if "i" in z else 1.0
        if self.options["coupled_input_forget"]:
            f = 1.0 - i
        elif "f" in z:
            f = parts["f"] = self._gate(z["f"], "f", c_prev)
        else:
            f = 1.0
        g = parts["g"] = self.activation(z["g"]) if self.options["input_activation"] else z["g"]
        c = f * c_prev + i * g
        o = parts["o"] = self._gate(z["o"], "o", c) if "o" in z else 1.0
        c_out = parts["c_out"] = self.activation(c) if self.options["output_activation"] else c
        h = o * c_out
        return h, [h, c], [parts[name] for name in self._cache_names]

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
        """Analytic derivative of `transition` for tanh/sigmoid cells without peepholes.

        Reads the activated gates and c_out from `cache` (see `_cache_names`) and
        c_{t-1} from `states`; every σ/tanh derivative is one fused op. Gate
        gradients come back in kernel column order; d_recurrent is d_projected
        (returned as None) and d h_{t-1} is zero here (None): h_{t-1} acts through
        U·h only.
        """
        if not self._analytic:
            return super().transition_gradient(
                projected, recurrent, states, d_output, d_new_states, recurrent_mask, variables
            )
        cache = self.step_cache(projected, recurrent, states, cache)
        opt = self.options
        saved = dict(zip(self._cache_names, cache))
        c_prev = states[1]
        g = saved["g"]
        d_z = {}
        # h = o ⊙ c_out
        d_h = d_output + d_new_states[0]
        if "o" in saved:
            d_z["o"] = sigmoid_grad(saved["o"], d_h * saved["c_out"])
            d_c_out = d_h * saved["o"]
        else:
            d_c_out = d_h
        # c_out = tanh(c_t) (or c_t)
        d_c = tanh_grad(saved["c_out"], d_c_out) if opt["output_activation"] else d_c_out
        d_c = d_new_states[1] + d_c
        # c_t = f ⊙ c_{t-1} + i ⊙ g, f = 1 − i under CIFG
        d_g = d_c * saved["i"] if "i" in saved else d_c
        d_z["g"] = tanh_grad(g, d_g) if opt["input_activation"] else d_g
        if opt["coupled_input_forget"]:
            d_z["i"] = sigmoid_grad(saved["i"], d_c * (g - c_prev))
            d_c_prev = d_c - d_g  # d_c ⊙ (1 − i)
        else:
            if "i" in saved:
                d_z["i"] = sigmoid_grad(saved["i"], d_c * g)
            if "f" in saved:
                d_z["f"] = sigmoid_grad(saved["f"], d_c * c_prev)
                d_c_prev = d_c * saved["f"]
            else:
                d_c_prev = d_c
        d_gates = ops.concatenate([d_z[name] for name in self.gate_names], axis=-1)
        return d_gates, None, [None, d_c_prev], []

    def get_config(self):
        return {
            **super().get_config(),
            "activation": keras.activations.serialize(self.activation),
            "recurrent_activation": keras.activations.serialize(
                self.recurrent_activation
            ),
            "variant": self.variant,
            "peephole": self.peephole,
            "coupled_input_forget": self.coupled_input_forget,
            "input_gate": self.input_gate,
            "forget_gate": self.forget_gate,
            "output_gate": self.output_gate,
            "input_activation": self.input_activation,
            "output_activation": self.output_activation,
            "unit_forget_bias": self.unit_forget_bias,
        }
