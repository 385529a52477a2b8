"""`DilatedCausalConv`: a WaveNet-style stack of causal, dilated, gated convolutions.

A convolutional alternative to the recurrent stack (van den Oord et al. 2016, WaveNet):
every output step is computed in parallel during training, and generation keeps a
queue of past activations per layer (Paine et al. 2016, Fast WaveNet), so that one new
step costs one small matmul per layer instead of re-running the whole window.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def causal_taps(past, x, kernel_size: int, dilation: int, lengths=None):
    """The inputs a causal dilated convolution reads at every step, and the new queue.

    With m = (k − 1)·d and ``padded = [past ; x]`` (time axis), the output at step t
    reads ``taps[:, t, j] = x_{t − (k − 1 − j)·d}``, j = 0 … k − 1 (the last tap is x_t
    itself); steps before the first of `x` come from `past`.

    Args:
        past: ``[B, m, ...]``, the m steps before `x`, oldest first (the queue).
        x: ``[B, T, ...]``, same trailing shape and dtype as `past`.
        kernel_size: k ≥ 1.
        dilation: d ≥ 1.
        lengths: int32 ``[B]`` or None: row b's steps from ``lengths[b]`` on are padding;
            its new queue ends at its last real step.

    Returns:
        (taps ``[B, T, k, ...]``, the new queue ``[B, m, ...]``: the last m steps of
        ``padded`` up to each row's length).
    """
    steps = tf.shape(x)[1]
    span = (kernel_size - 1) * dilation
    padded = tf.concat([past, x], axis=1)
    taps = tf.stack([padded[:, j * dilation:j * dilation + steps] for j in range(kernel_size)], axis=2)
    if lengths is None:
        queue = padded[:, steps:]
    else:
        # Row b's queue: padded positions lengths[b] … lengths[b] + m − 1.
        queue = tf.gather(padded, tf.cast(lengths, tf.int32)[:, None] + tf.range(span)[None, :], batch_dims=1)
    # A static width: the queue is a loop variable of the samplers and of `score`.
    return taps, tf.ensure_shape(queue, [None, span, *x.shape[2:]])


@keras.saving.register_keras_serializable(package="seqkeras")
class DilatedCausalConv(keras.layers.Layer):
    """A causal dilated convolution stack with gated residual units and skip outputs.

    With C = `units`, k = `kernel_size` and dilation d_l of layer l (1, 2, 4, … —
    restarting at 1 every `dilation_cycle` layers when that is set)::

        x⁰_t = W_in x_t + b_in                                    (1×1, to C channels)
        f, g = Σ_{j<k} W_l,j x^{l−1}_{t − (k−1−j)·d_l} + b_l       (one matmul for both halves)
        z^l_t = tanh(f) ⊙ σ(g)                                     (the gated unit)
        x^l_t = x^{l−1}_t + R_l z^l_t + r_l                        (residual; not on the last layer)
        y_t = relu(Σ_l S_l z^l_t + s_l)                            (skip connections)

    Inputs before the first step are zeros (``padding="causal"``), or the given state.

    Receptive field: y_t depends on x_{t−R+1} … x_t with

        R = 1 + (k − 1) · Σ_l d_l,

    e.g. k = 2 and L layers with dilations 1 … 2^{L−1}: R = 2^L. `receptive_field` says
    it for this layer's settings.

    State (for streaming and truncated BPTT): layer l's queue of its last (k − 1)·d_l
    inputs x^{l−1}, oldest first, flattened to ``[B, (k−1)·d_l·C]`` (`state_sizes`).
    `step` pushes one new step through every queue (Paine et al. 2016, "Fast
    Wavenet"): k·C·2C + 2·C² multiply-adds per layer, independent of R — re-running the
    window would cost R times that. The queue shift itself moves (k−1)·d_l·C floats
    per layer, with no arithmetic.

    Args:
        units: C, the channels of the residual stream, the gates and the skips.
        layers: L ≥ 1, the gated layers.
        kernel_size: k ≥ 2, taps per layer.
        dilation_cycle: restart the dilations at 1 after this many layers (0: never):
            the repeated blocks of WaveNet.
        return_sequences: return ``[B, T, C]``, else the last step ``[B, C]``.
        stateful: carry the queues across calls (truncated BPTT over consecutive
            windows; needs a fixed batch size); `reset_state` zeroes them.
        kernel_initializer: of every W, R and S.

    Call args:
        inputs: float ``[B, T, D]``.
        initial_state: list of ``[B, S_l]`` (`state_sizes`), or None (the carried state
            when `stateful`, else zeros).

    Example:
        >>> stack = DilatedCausalConv(16, layers=4)          # dilations 1, 2, 4, 8
        >>> stack.receptive_field
        16
        >>> stack(np.zeros((2, 30, 5), "float32")).shape
        TensorShape([2, 30, 16])
    """

    def __init__(self, units, layers, kernel_size=2, dilation_cycle=0, return_sequences=True, stateful=False,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        for name, value, least in (("units", units, 1), ("layers", layers, 1), ("kernel_size", kernel_size, 2),
                                   ("dilation_cycle", dilation_cycle, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"Argument `{name}` must be an integer ≥ {least}, received {name}={value!r}")
        self.units, self.layers, self.kernel_size = units, layers, kernel_size
        self.dilation_cycle = dilation_cycle
        self.return_sequences = return_sequences
        self.stateful = stateful
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.states = None

    @property
    def dilations(self) -> list[int]:
        """d_l of every layer, bottom first."""
        cycle = self.dilation_cycle or self.layers
        return [2 ** (i % cycle) for i in range(self.layers)]

    @property
    def receptive_field(self) -> int:
        """R = 1 + (k − 1)·Σ d_l: the input steps one output step depends on."""
        return 1 + (self.kernel_size - 1) * sum(self.dilations)

    @property
    def state_sizes(self) -> list[int]:
        """The width of every layer's flattened queue, (k − 1)·d_l·C, bottom first."""
        return [(self.kernel_size - 1) * d * self.units for d in self.dilations]

    def build(self, input_shape):
        units, k = self.units, self.kernel_size
        weight = lambda shape, name, init=None: self.add_weight(  # noqa: E731
            shape=shape, initializer=init or self.kernel_initializer, name=name)
        self.input_kernel = weight((input_shape[-1], units), "input_kernel")
        self.input_bias = weight((units,), "input_bias", "zeros")
        self.gate_kernels, self.gate_biases, self.skip_kernels, self.skip_biases = [], [], [], []
        self.residual_kernels, self.residual_biases = [], []
        for i in range(self.layers):
            self.gate_kernels.append(weight((k * units, 2 * units), f"gate_kernel_{i}"))
            self.gate_biases.append(weight((2 * units,), f"gate_bias_{i}", "zeros"))
            self.skip_kernels.append(weight((units, units), f"skip_kernel_{i}"))
            self.skip_biases.append(weight((units,), f"skip_bias_{i}", "zeros"))
            if i < self.layers - 1:  # the top layer's residual output would feed nothing
                self.residual_kernels.append(weight((units, units), f"residual_kernel_{i}"))
                self.residual_biases.append(weight((units,), f"residual_bias_{i}", "zeros"))
        if self.stateful:
            batch = input_shape[0]
            if batch is None:
                raise ValueError("A stateful DilatedCausalConv needs a fixed batch size (e.g. "
                                 f"keras.Input(batch_size=...)); received input_shape={input_shape}")
            self.states = [self.add_weight(shape=(batch, size), initializer="zeros", trainable=False,
                                           name=f"queue_{i}") for i, size in enumerate(self.state_sizes)]
        self.built = True

    def reset_state(self):
        """Zero the carried queues of a stateful stack."""
        if self.states is not None:
            for state in self.states:
                state.assign(tf.zeros_like(state))

    reset_states = reset_state

    def initial_states(self, batch) -> list[tf.Tensor]:
        """Zero queues: float32 ``[batch, S_l]`` per layer."""
        return [tf.zeros([batch, size], tf.float32) for size in self.state_sizes]

    def run(self, inputs, states, lengths=None):
        """The stack over whole sequences from given queues (no carried state).

        Args:
            inputs: float ``[B, T, D]``.
            states: ``[B, S_l]`` per layer (`state_sizes`).
            lengths: int32 ``[B]`` or None: steps from ``lengths[b]`` on are padding
                (their outputs are computed but the final queues end before them).

        Returns:
            (outputs ``[B, T, C]``, final queues ``[B, S_l]`` per layer, compute dtype).
        """
        dtype = self.compute_dtype
        cast = lambda v: tf.cast(v, dtype)  # noqa: E731  (variables stay float32 under mixed precision)
        units, k = self.units, self.kernel_size
        batch = tf.shape(inputs)[0]
        x = tf.matmul(cast(inputs), cast(self.input_kernel)) + cast(self.input_bias)
        skips, final = 0.0, []
        for i, dilation in enumerate(self.dilations):
            past = tf.reshape(cast(states[i]), [batch, (k - 1) * dilation, units])
            taps, queue = causal_taps(past, x, k, dilation, lengths)
            final.append(tf.reshape(queue, [batch, (k - 1) * dilation * units]))
            taps = tf.reshape(taps, tf.concat([tf.shape(taps)[:2], [k * units]], 0))
            f, g = tf.split(tf.matmul(taps, cast(self.gate_kernels[i])) + cast(self.gate_biases[i]), 2, axis=-1)
            z = tf.tanh(f) * tf.sigmoid(g)
            skips += tf.matmul(z, cast(self.skip_kernels[i])) + cast(self.skip_biases[i])
            if i < self.layers - 1:
                x = x + tf.matmul(z, cast(self.residual_kernels[i])) + cast(self.residual_biases[i])
        return tf.nn.relu(skips), final

    def step(self, inputs, states):
        """One new step per row through every layer's queue (the Fast WaveNet update).

        Args:
            inputs: float ``[B, D]``.
            states: ``[B, S_l]`` per layer.

        Returns:
            (outputs ``[B, C]``, the new queues).
        """
        outputs, states = self.run(inputs[:, None, :], states)
        return outputs[:, 0], states

    def call(self, inputs, initial_state=None, training=False):
        if initial_state is not None:
            states = list(initial_state)
        elif self.stateful:
            states = [tf.convert_to_tensor(s) for s in self.states]
        else:
            states = self.initial_states(tf.shape(inputs)[0])
        outputs, final = self.run(inputs, states)
        if self.stateful:
            for variable, value in zip(self.states, final):
                variable.assign(tf.cast(value, variable.dtype))
        return outputs if self.return_sequences else outputs[:, -1]

    def compute_output_shape(self, input_shape):
        if self.return_sequences:
            return (input_shape[0], input_shape[1], self.units)
        return (input_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "layers": self.layers,
            "kernel_size": self.kernel_size,
            "dilation_cycle": self.dilation_cycle,
            "return_sequences": self.return_sequences,
            "stateful": self.stateful,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        })
        return config
