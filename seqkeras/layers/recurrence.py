"""The time loop of every seqkeras cell: forward scan with a hand-written backward.

`run_recurrence` runs `cell.transition` over a time-major sequence whose input
projection was computed beforehand (one matmul for all steps). Its gradient is
written by hand (`tf.custom_gradient`) the way cuDNN and oneDNN do it:

- the reverse loop does only what must be sequential: the elementwise derivative of
  `transition` (`cell.transition_gradient`: analytic for the common cells, autodiff
  of one step otherwise) and dh_{t-1} += d(U·h)_t · Uᵀ;
- dU, the recurrent bias and the input projection's gradient are each ONE matmul
  or sum over the whole sequence after the loop, instead of T small ones.

Elementwise work is where time goes once matmuls are hoisted: a step is a few dozen
small elementwise ops. Two XLA modes fuse them (`jit_compile`):

1. True: both whole loops are compiled. Best at small batch, where the cost of a
   step is op dispatch; but XLA's CPU matmuls are slower than oneDNN's at larger
   shapes.
2. "step": only the elementwise step (`transition`, `transition_gradient`) is
   compiled, into one kernel each, while U·h stays a oneDNN matmul.
"""

import weakref

import tensorflow as tf
from tensorflow.python.eager import record  # stop_recording: as tf.custom_gradient uses it


def _project(h, kernel, bias):
    """U·h (+ b): [B, units] -> [B, R]."""
    recurrent = tf.matmul(h, kernel)
    return recurrent if bias is None else recurrent + bias


def _where(mask, new, old):
    """Per-example select: mask [B, 1] bool."""
    return tf.where(mask, new, old)


JIT_MODES = (False, True, "step")

_fused_steps = weakref.WeakKeyDictionary()


def _step_functions(cell, fuse):
    """`cell.transition` and its derivative, each XLA-fused into one kernel if `fuse`."""
    if not fuse:
        return cell.transition, cell.transition_gradient
    if cell not in _fused_steps:
        _fused_steps[cell] = (
            tf.function(cell.transition, jit_compile=True, reduce_retracing=True),
            tf.function(cell.transition_gradient, jit_compile=True, reduce_retracing=True),
        )
    return _fused_steps[cell]


def run_recurrence(
    cell,
    projected,
    initial_states,
    mask=None,
    recurrent_mask=None,
    jit_compile=False,
):
    """Run `cell` over a time-major sequence.

    Masked steps carry the state and repeat the previous output, as
    `keras.layers.RNN` does (the first output before any valid step is zero).

    Args:
        cell: a built `seqkeras.cells.RecurrentCell`.
        projected: [T, B, P], `cell.project_inputs(x)` for every step.
        initial_states: list of [B, S_i] tensors (h first).
        mask: optional bool [T, B]; False steps keep the state.
        recurrent_mask: optional [B, units] variational dropout mask on h_{t-1}
            (same mask at every step).
        jit_compile: False, True (compile both loops) or "step" (compile the
            elementwise step only).

    Returns:
        (outputs [T, B, units], final_states list of [B, S_i]).
    """
    if jit_compile not in JIT_MODES:
        raise ValueError(f"jit_compile must be one of {JIT_MODES}, received {jit_compile!r}")
    initial_states = [tf.convert_to_tensor(s, projected.dtype) for s in initial_states]
    transition, transition_gradient = _step_functions(cell, fuse=jit_compile == "step")
    if not cell.recurrent_projection_size:
        # No recurrent weights (AdditiveCell): nothing to hoist out of the backward
        # pass, plain autodiff through the loop is already minimal.
        outputs, final_states, _, _ = _forward(
            cell, transition, projected, None, None, initial_states, mask, recurrent_mask
        )
        return outputs, final_states

    kernel = tf.convert_to_tensor(cell.recurrent_kernel, projected.dtype)
    bias = cell.recurrent_bias
    has_bias = bias is not None
    bias = tf.convert_to_tensor(bias, projected.dtype) if has_bias else tf.zeros(
        [cell.recurrent_projection_size], projected.dtype
    )
    num_states = len(initial_states)

    forward = _forward
    backward = _backward
    if jit_compile is True:
        forward = tf.function(_forward, jit_compile=True, reduce_retracing=True)
        backward = tf.function(_backward, jit_compile=True, reduce_retracing=True)

    @tf.custom_gradient
    def recurrence(projected, kernel, bias, *states):
        # The gradient is ours: keep outer tapes from differentiating the loop
        # (they would add per-step accumulators, which XLA cannot return).
        with record.stop_recording():
            outputs, final_states, previous_states, recurrents = forward(
                cell, transition, projected, kernel, bias, list(states), mask, recurrent_mask
            )

        def grad(d_outputs, *d_final_states, variables=None):
            variables = list(variables or [])
            if d_outputs is None:
                d_outputs = tf.zeros_like(outputs)
            d_projected, d_kernel, d_bias, d_states, d_variables = backward(
                transition_gradient,
                projected,
                kernel,
                previous_states,
                recurrents,
                d_outputs,
                [
                    tf.zeros_like(s) if d is None else d
                    for d, s in zip(d_final_states, final_states)
                ],
                mask,
                recurrent_mask,
                variables,
            )
            d_inputs = [d_projected, d_kernel, d_bias if has_bias else None]
            return d_inputs + list(d_states), list(d_variables)

        return (outputs, *final_states), grad

    outputs, *final_states = recurrence(projected, kernel, bias, *initial_states)
    return outputs, list(final_states)[:num_states]


def _forward(cell, transition, projected, kernel, bias, states, mask, recurrent_mask):
    """Forward loop; also returns what the backward loop needs.

    Returns:
        outputs [T, B, units], final states, previous states (list of [T, B, S_i]:
        the state each step started from), recurrent projections [T, B, R] (or
        None without recurrent weights).
    """
    steps = tf.shape(projected)[0]
    batch = tf.shape(projected)[1]
    dtype = projected.dtype
    has_recurrence = kernel is not None
    outputs_ta = tf.TensorArray(dtype, size=steps)
    previous_tas = [tf.TensorArray(dtype, size=steps) for _ in states]
    recurrent_ta = tf.TensorArray(dtype, size=steps) if has_recurrence else None
    previous_output = tf.zeros([batch, cell.output_size], dtype)

    def body(t, states, previous_output, outputs_ta, previous_tas, recurrent_ta):
        h = states[0] if recurrent_mask is None else states[0] * recurrent_mask
        recurrent = _project(h, kernel, bias) if has_recurrence else None
        output, new_states = transition(projected[t], recurrent, states, recurrent_mask)
        output = tf.cast(output, dtype)
        new_states = [tf.cast(s, dtype) for s in new_states]
        if mask is not None:
            live = mask[t][:, None]
            output = _where(live, output, previous_output)
            new_states = [_where(live, n, s) for n, s in zip(new_states, states)]
        previous_tas = [ta.write(t, s) for ta, s in zip(previous_tas, states)]
        if has_recurrence:
            recurrent_ta = recurrent_ta.write(t, recurrent)
        outputs_ta = outputs_ta.write(t, output)
        return t + 1, new_states, output, outputs_ta, previous_tas, recurrent_ta

    loop_vars = (0, states, previous_output, outputs_ta, previous_tas, recurrent_ta)
    if not has_recurrence:
        loop_vars = loop_vars[:-1]
        _body = body

        def body(t, states, previous_output, outputs_ta, previous_tas):  # noqa: F811
            return _body(t, states, previous_output, outputs_ta, previous_tas, None)[:-1]

    results = tf.while_loop(
        lambda t, *_: t < steps, body, loop_vars, maximum_iterations=steps
    )
    _, final_states, _, outputs_ta, previous_tas = results[:5]
    recurrents = results[5].stack() if has_recurrence else None
    return (
        outputs_ta.stack(),
        final_states,
        [ta.stack() for ta in previous_tas],
        recurrents,
    )


def _backward(
    transition_gradient,
    projected,
    kernel,
    previous_states,
    recurrents,
    d_outputs,
    d_final_states,
    mask,
    recurrent_mask,
    variables,
):
    """Reverse loop: per-step elementwise derivatives, then whole-sequence matmuls.

    Returns:
        d_projected [T, B, P], d_kernel [units, R], d_bias [R], d_initial_states,
        d_variables (gradients of the `transition_weights` in `variables`).
    """
    steps = tf.shape(projected)[0]
    dtype = projected.dtype
    kernel_t = tf.transpose(kernel)
    d_projected_ta = tf.TensorArray(dtype, size=steps)
    d_recurrent_ta = tf.TensorArray(dtype, size=steps)
    d_previous_output = tf.zeros_like(d_outputs[0])
    d_variables = [tf.zeros_like(v) for v in variables]

    def body(t, d_states, d_previous_output, d_projected_ta, d_recurrent_ta, d_variables):
        states = [s[t] for s in previous_states]
        step_input = projected[t]
        recurrent = recurrents[t]
        d_output = d_outputs[t] + d_previous_output
        d_new_states = d_states
        if mask is not None:
            live = mask[t][:, None]
            zeros = tf.zeros_like(d_output)
            d_carried = [_where(live, tf.zeros_like(d), d) for d in d_states]
            d_previous_output = _where(live, zeros, d_output)
            d_output = _where(live, d_output, zeros)
            d_new_states = [_where(live, d, tf.zeros_like(d)) for d in d_states]
        else:
            d_previous_output = tf.zeros_like(d_output)
        d_step_input, d_recurrent, d_previous, d_vars_step = transition_gradient(
            step_input, recurrent, states, d_output, d_new_states, recurrent_mask, variables
        )
        d_previous = list(d_previous)
        d_h = tf.matmul(d_recurrent, kernel_t)
        if recurrent_mask is not None:
            d_h = d_h * recurrent_mask
        d_previous[0] = d_previous[0] + d_h
        if mask is not None:
            d_previous = [d + c for d, c in zip(d_previous, d_carried)]
        d_variables = [a + tf.convert_to_tensor(g) for a, g in zip(d_variables, d_vars_step)]
        return (
            t - 1,
            d_previous,
            d_previous_output,
            d_projected_ta.write(t, d_step_input),
            d_recurrent_ta.write(t, d_recurrent),
            d_variables,
        )

    _, d_states, _, d_projected_ta, d_recurrent_ta, d_variables = tf.while_loop(
        lambda t, *_: t >= 0,
        body,
        (steps - 1, d_final_states, d_previous_output, d_projected_ta, d_recurrent_ta, d_variables),
        maximum_iterations=steps,
    )
    d_recurrents = d_recurrent_ta.stack()
    h_seen = previous_states[0]
    if recurrent_mask is not None:
        h_seen = h_seen * recurrent_mask
    units = tf.shape(h_seen)[-1]
    width = tf.shape(d_recurrents)[-1]
    d_kernel = tf.matmul(
        tf.reshape(h_seen, [-1, units]), tf.reshape(d_recurrents, [-1, width]), transpose_a=True
    )
    d_bias = tf.reduce_sum(d_recurrents, axis=[0, 1])
    return d_projected_ta.stack(), d_kernel, d_bias, d_states, d_variables
