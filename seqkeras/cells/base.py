"""The recurrent-cell contract shared by every seqkeras cell.

A recurrence h_t = F(x_t, h_{t-1}) is split into three parts so that the driver
(`seqkeras.layers.Recurrent`) can run it fast:

1. `project_inputs(x)`: every W·x term (+ bias). It has no dependence on time, so
   the driver applies it to the whole sequence [B, T, D] in ONE matmul before the loop.
2. `recurrent_projection(h)`: the U·h term, `h @ recurrent_kernel (+ recurrent_bias)`:
   the only matmul left inside the loop.
3. `transition(projected, recurrent, states)`: the elementwise rest of the step
   (gates, nonlinearities, state update). Cells write their equations here.

The driver's hand-written backward pass calls `transition_gradient`, the
vector-Jacobian product of `transition`. A cell may let the forward step save what
that derivative needs (activated gates, ...) instead of recomputing it: it lists the
widths in `transition_cache_sizes` and returns the tensors from
`transition_with_cache`; the driver stores them per step and hands them back to
`transition_gradient` as `cache`. By default there is no cache and the derivative
recomputes the step from its inputs.

`call(inputs, states)` chains the three, so every cell is also a standard Keras RNN
cell usable in `keras.layers.RNN`.
"""

import keras
import tensorflow as tf
from keras import ops


def check_positive_int(name, value):
    """Raise ValueError naming `name` unless `value` is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected a "
            f"positive integer, received {name}={value!r}"
        )


def check_choice(name, value, choices):
    """Raise ValueError naming `name` unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected one of "
            f"{sorted(choices)}, received {name}={value!r}"
        )


class RecurrentCell(keras.layers.Layer):
    """Base class of seqkeras cells: hoistable input projection + recurrent step.

    Subclasses set, before `build`, `self.input_projection_size` (columns of the
    input kernel W) and `self.recurrent_projection_size` (columns of U; 0 for cells
    without recurrent weights), and implement `transition`.

    Args:
        units: positive int, size of the hidden state h.
        use_bias: whether the input projection adds a bias.
        kernel_initializer, recurrent_initializer, bias_initializer: Keras
            initializers for W [D, input_projection_size], U [units,
            recurrent_projection_size] and b [input_projection_size].
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Keras regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: Keras constraints.
    """

    def __init__(
        self,
        units,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("units", units)
        self.units = units
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.recurrent_bias = None
        self.recurrent_kernel = None

    # -- Keras RNN-cell interface -------------------------------------------------
    @property
    def state_size(self):
        """Sizes of the state tensors, h first."""
        return [self.units]

    @property
    def output_size(self):
        return self.units

    def get_initial_state(self, batch_size=None):
        """Zero states, a list of [batch_size, size] tensors."""
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype)
            for size in self.state_size
        ]

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"{type(self).__name__} needs a known last input dimension, "
                f"received input_shape={input_shape}"
            )
        self.build_input_projection(int(input_dim))
        if self.recurrent_projection_size:
            self.recurrent_kernel = self.add_weight(
                shape=(self.units, self.recurrent_projection_size),
                name="recurrent_kernel",
                initializer=self.recurrent_initializer,
                regularizer=self.recurrent_regularizer,
                constraint=self.recurrent_constraint,
            )
        self.build_transition_weights()
        self.built = True

    def build_input_projection(self, input_dim):
        """Create W [input_dim, input_projection_size] and b [bias_size]."""
        self.kernel = self.add_weight(
            shape=(input_dim, self.input_projection_size),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.bias_size,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )

    @property
    def bias_size(self):
        """Length of the input-projection bias b."""
        return self.input_projection_size

    def build_transition_weights(self):
        """Hook for weights used inside `transition` (peepholes, ...)."""

    @property
    def transition_weights(self):
        """Variables read inside `transition` (the driver differentiates them)."""
        return []

    def project_inputs(self, inputs):
        """W·x + b for any leading shape: [..., D] -> [..., input_projection_size]."""
        projected = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            projected = projected + self.bias
        return projected

    def recurrent_projection(self, h):
        """U·h (+ recurrent bias): [B, units] -> [B, recurrent_projection_size]."""
        recurrent = ops.matmul(h, self.recurrent_kernel)
        if self.recurrent_bias is not None:
            recurrent = recurrent + self.recurrent_bias
        return recurrent

    def transition(self, projected, recurrent, states, recurrent_mask=None):
        """The elementwise part of one step.

        Args:
            projected: [B, input_projection_size], this step's `project_inputs`.
            recurrent: [B, recurrent_projection_size], this step's
                `recurrent_projection(h_{t-1} * recurrent_mask)`, or None for cells
                without recurrent weights.
            states: list of [B, size] tensors (see `state_size`), h_{t-1} first.
            recurrent_mask: optional [B, units] variational dropout mask on h_{t-1};
                only cells that apply a second recurrent matmul inside the
                transition need it.

        Returns:
            (output [B, units], new_states list).
        """
        raise NotImplementedError

    @property
    def transition_cache_sizes(self):
        """Widths of the per-step tensors the backward pass reads instead of recomputing.

        `transition_with_cache` returns one [B, size] tensor per entry; the driver
        stores them for every step (T × B × Σsizes values) and passes the step's
        list to `transition_gradient` as `cache`. A cell declaring a cache must
        override both methods. `[]` (the default) means no cache: the driver keeps
        this step's `recurrent` instead and `transition_gradient` recomputes what it
        needs from `projected`, `recurrent` and `states` (the autodiff fallback
        below does this).
        """
        return []

    def transition_with_cache(self, projected, recurrent, states, recurrent_mask=None):
        """`transition` that also returns what `transition_gradient` will need.

        Args: as in `transition`.

        Returns:
            (output [B, units], new_states list, cache): `cache` is a list of
            [B, size] tensors matching `transition_cache_sizes` (`[]` by default).
        """
        output, new_states = self.transition(projected, recurrent, states, recurrent_mask)
        return output, new_states, []

    def step_cache(self, projected, recurrent, states, cache=None) -> list:
        """`cache` as given, or recomputed with `transition_with_cache` when None
        (a caller of `transition_gradient` that kept no cache)."""
        if cache is None:
            _, _, cache = self.transition_with_cache(projected, recurrent, states)
        return cache

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
        """Vector-Jacobian product of `transition` (used by the backward loop).

        The default differentiates one step with autodiff (recomputing it); cells
        override it with the analytic derivative for speed, falling back here for
        options the analytic form does not cover.

        Args:
            projected, recurrent, states, recurrent_mask: as in `transition`;
                `states` are the states the step started from. When the cell has a
                cache (`transition_cache_sizes`), the driver does not keep the step
                inputs and passes `projected` and `recurrent` as None.
            d_output: [B, units], gradient of the step output.
            d_new_states: list of [B, size], gradients of the new states.
            variables: the `tf.Variable`s read inside `transition` whose gradients
                are wanted.
            cache: the list `transition_with_cache` returned for this step, or None
                (no cache: cells that have one then recompute it from the inputs).

        Returns:
            (d_projected [B, P], d_recurrent [B, R], d_states list, d_variables list
            matching `variables`). `d_recurrent` may be None when it equals
            `d_projected` (same gate layout), and an entry of `d_states` None when
            that gradient is zero (e.g. h_{t-1}, reached through U·h only): the
            driver then stores, or adds, nothing.
        """
        with tf.GradientTape() as tape:
            tape.watch([projected, recurrent, *states])
            output, new_states = self.transition(projected, recurrent, states, recurrent_mask)
        grads = tape.gradient(
            [output, *new_states],
            [projected, recurrent, *states, *variables],
            output_gradients=[d_output, *d_new_states],
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        count = len(states)
        return grads[0], grads[1], grads[2 : 2 + count], grads[2 + count :]

    def call(self, inputs, states, training=False):
        """One step as a standard Keras RNN cell: [B, D], states -> ([B, units], states)."""
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        recurrent = None
        if self.recurrent_projection_size:
            recurrent = self.recurrent_projection(states[0])
        return self.transition(self.project_inputs(inputs), recurrent, states)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(
                    self.recurrent_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": keras.regularizers.serialize(
                    self.recurrent_regularizer
                ),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "recurrent_constraint": keras.constraints.serialize(
                    self.recurrent_constraint
                ),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            }
        )
        return config


def is_activation(function, name):
    """Whether a resolved Keras activation is the named built-in."""
    return keras.activations.serialize(function) == name


def split_gates(tensor, names):
    """Split [B, len(names) * units] into a dict name -> [B, units]."""
    return dict(zip(names, ops.split(tensor, len(names), axis=-1)))


def sigmoid_grad(y, dy):
    """dy ⊙ y ⊙ (1 − y) for y = σ(x): the gradient through σ, as one fused op. [B, n]."""
    return tf.raw_ops.SigmoidGrad(y=y, dy=dy)


def relu_grad(y, dy):
    """dy where y = relu(x) > 0, else 0: the gradient through relu, as one op. [B, n]."""
    return tf.raw_ops.ReluGrad(gradients=dy, features=y)


def tanh_grad(y, dy):
    """dy ⊙ (1 − y²) for y = tanh(x): the gradient through tanh, as one fused op. [B, n]."""
    return tf.raw_ops.TanhGrad(y=y, dy=dy)
