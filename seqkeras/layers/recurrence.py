"""The time loop of every seqkeras cell: forward scan with a hand-written backward.

`run_recurrence` runs `cell.transition` over a time-major sequence whose input
projection was computed beforehand (one matmul for all steps). Its gradient is
written by hand (`tf.custom_gradient`) the way cuDNN and oneDNN do it:

- the reverse loop does only what must be sequential: the elementwise derivative of
  `transition` (`cell.transition_gradient`: analytic for the common cells, autodiff
  of one step otherwise) and dh_{t-1} += d(U·h)_t · Uᵀ;
- the forward loop saves, per step, the states the step started from and either
  the cell's cache (`cell.transition_cache_sizes`: e.g. the activated LSTM gates and
  tanh(c), so the reverse step recomputes no activation) or, for cells without one,
  the recurrent projection U·h, from which the derivative recomputes the step;
- dU, the recurrent bias and the input projection's gradient are each ONE matmul
  or sum over the whole sequence after the loop (outside any XLA function), instead
  of T small ones;
- the in-loop matmuls (U·h forward, dz·Uᵀ reverse) are split into column blocks, one
  per core: one small dot runs on one thread, independent dots run side by side.

Elementwise work is where time goes once matmuls are hoisted: a step is a few dozen
small elementwise ops. Two XLA modes fuse them (`jit_compile`):

1. True: both whole loops are compiled. Best at small batch, where the cost of a
   step is op dispatch; but XLA's CPU matmuls are slower than oneDNN's at larger
   shapes.
2. "step": only the elementwise step (`transition`, `transition_gradient`) is
   compiled, into one kernel each, while U·h stays a oneDNN matmul.
"""

import itertools
import os
import weakref

import tensorflow as tf
from tensorflow.python.eager import record  # stop_recording: as tf.custom_gradient uses it


_MIN_BLOCK_WIDTH = 128
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _threads():
    """TensorFlow's intra-op thread count (0, its default, means one per core)."""
    return tf.config.threading.get_intra_op_parallelism_threads() or _CORES


def _column_blocks(kernel):
    """Split a [K, N] kernel into column blocks, one per core, none under 128 columns.

    A step's matmul is too small for one dot to spread over the cores (XLA's CPU dot
    runs it on one thread); independent dots over column blocks do run in parallel:
    on 2 cores, [64, 200]·[200, 800] as two [200, 400] blocks takes 0.55× the time.
    """
    width = kernel.shape[-1]
    blocks = max(1, min(_threads(), -(-width // _MIN_BLOCK_WIDTH))) if width else 1
    if blocks == 1:
        return [kernel]
    edges = [width * i // blocks for i in range(blocks + 1)]
    return [kernel[:, start:stop] for start, stop in itertools.pairwise(edges)]


def _blocked_matmul(x, kernel_blocks):
    """x · concat(kernel_blocks, axis=1), one independent dot per block."""
    if len(kernel_blocks) == 1:
        return tf.matmul(x, kernel_blocks[0])
    return tf.concat([tf.matmul(x, block) for block in kernel_blocks], axis=-1)


def _where(mask, new, old):
    """Per-example select: mask [B, 1] bool; `old` may be a scalar (broadcast)."""
    return tf.where(mask, new, old)


JIT_MODES = (False, True, "step")

_fused_steps = weakref.WeakKeyDictionary()


def _step_functions(cell, fuse):
    """`cell.transition_with_cache` and `cell.transition_gradient`, each XLA-fused
    into one kernel if `fuse`."""
    if not fuse:
        return cell.transition_with_cache, cell.transition_gradient
    if cell not in _fused_steps:
        _fused_steps[cell] = (
            tf.function(cell.transition_with_cache, jit_compile=True, reduce_retracing=True),
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
        outputs, final_states, _ = _forward(
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
    cached = bool(cell.transition_cache_sizes)

    forward = _forward
    backward = _backward
    if jit_compile is True:
        forward = tf.function(_forward, jit_compile=True, reduce_retracing=True)
        backward = tf.function(_backward, jit_compile=True, reduce_retracing=True)

    @tf.custom_gradient
    def recurrence(projected, kernel, bias, *states):
        # custom_gradient hands `grad` the variables it saw read in here. A fused
        # step (jit_compile="step") already traced reads them inside its function
        # call, unseen: read them here so their gradients are never dropped.
        for weight in cell.transition_weights:
            tf.convert_to_tensor(weight)
        # The gradient is ours: keep outer tapes from differentiating the loop
        # (they would add per-step accumulators, which XLA cannot return).
        with record.stop_recording():
            outputs, final_states, saved = forward(
                cell,
                transition,
                projected,
                kernel,
                bias,
                list(states),
                mask,
                recurrent_mask,
                save=True,
            )

        def grad(d_outputs, *d_final_states, variables=None):
            variables = list(variables or [])
            if d_outputs is None:
                d_outputs = tf.zeros_like(outputs)
            d_projected, d_recurrents, d_states, d_variables = backward(
                transition_gradient,
                None if cached else projected,
                kernel,
                saved,
                d_outputs,
                [
                    tf.zeros_like(s) if d is None else d
                    for d, s in zip(d_final_states, final_states)
                ],
                mask,
                recurrent_mask,
                variables,
            )
            # Outside the (possibly XLA-compiled) loop: oneDNN's matmul is faster at
            # this size, and it overlaps with the layer below's reverse loop.
            d_kernel, d_bias = _recurrent_weight_gradients(
                saved["states"][0],
                d_projected if d_recurrents is None else d_recurrents,
                recurrent_mask,
            )
            d_inputs = [d_projected, d_kernel, d_bias if has_bias else None]
            return d_inputs + list(d_states), list(d_variables)

        return (outputs, *final_states), grad

    outputs, *final_states = recurrence(projected, kernel, bias, *initial_states)
    return outputs, list(final_states)[:num_states]


def _forward(
    cell,
    transition,
    projected,
    kernel,
    bias,
    states,
    mask,
    recurrent_mask,
    save=False,
):
    """Forward loop; with `save`, also records what the backward loop needs.

    Args:
        transition: `cell.transition_with_cache`, possibly XLA-fused.
        kernel, bias: U [units, R] and its bias [R], or None without recurrent weights.
        save: record, per step, the states the step started from and the cell's
            cache (`cell.transition_cache_sizes`), or U·h for cells without a cache.

    Returns:
        outputs [T, B, units], final states (list of [B, S_i]), and `saved` (with
        `save`, else None): a dict of lists of [T, B, ·] tensors under "states"
        (S_i wide, h first), "cache" (widths `cell.transition_cache_sizes`) and
        "recurrent" ([T, B, R] for cells without a cache, else empty). They are
        stacked, not TensorLists: the gradient function captures them, and neither
        an XLA-compiled function nor a SavedModel can hold a captured TensorList.
    """
    steps = tf.shape(projected)[0]
    batch = tf.shape(projected)[1]
    dtype = projected.dtype
    has_recurrence = kernel is not None
    cache_sizes = list(cell.transition_cache_sizes) if save else []
    carry = {"states": states, "outputs": tf.TensorArray(dtype, size=steps)}
    if mask is not None:
        mask = mask[:, :, None]  # [T, B, 1]: each step's select needs no reshaping
        carry["previous_output"] = tf.zeros([batch, cell.output_size], dtype)
    if save:
        carry["saved"] = {
            "states": [tf.TensorArray(dtype, size=steps) for _ in states],
            "cache": [tf.TensorArray(dtype, size=steps) for _ in cache_sizes],
            "recurrent": (
                [tf.TensorArray(dtype, size=steps)] if has_recurrence and not cache_sizes else []
            ),
        }

    kernel_blocks = _column_blocks(kernel) if has_recurrence else None

    def body(t, carry):
        states = carry["states"]
        recurrent = None
        if has_recurrence:
            h = states[0] if recurrent_mask is None else states[0] * recurrent_mask
            recurrent = _blocked_matmul(h, kernel_blocks) + bias
        output, new_states, cache = transition(_at(projected, t), recurrent, states, recurrent_mask)
        output = tf.cast(output, dtype)
        new_states = [tf.cast(s, dtype) for s in new_states]
        carry = dict(carry)
        if mask is not None:
            live = _at(mask, t)
            output = _where(live, output, carry["previous_output"])
            new_states = [_where(live, n, s) for n, s in zip(new_states, states)]
            carry["previous_output"] = output
        carry["states"] = new_states
        carry["outputs"] = carry["outputs"].write(t, output)
        if save:
            if len(cache) != len(cache_sizes):
                raise ValueError(
                    f"{type(cell).__name__}.transition_with_cache returned {len(cache)} "
                    f"cached tensors, transition_cache_sizes lists {len(cache_sizes)}"
                )
            saved = carry["saved"]
            carry["saved"] = {
                "states": [ta.write(t, s) for ta, s in zip(saved["states"], states)],
                "cache": [ta.write(t, tf.cast(c, dtype)) for ta, c in zip(saved["cache"], cache)],
                "recurrent": [ta.write(t, recurrent) for ta in saved["recurrent"]],
            }
        return t + 1, carry

    _, carry = tf.while_loop(
        lambda t, _: t < steps, body, (0, carry), maximum_iterations=steps
    )
    saved = carry.get("saved")
    if saved is not None:
        saved = tf.nest.map_structure(lambda ta: ta.stack(), saved)
    return carry["outputs"].stack(), carry["states"], saved


def _at(sequence, t):
    """sequence[t] for [T, ...] -> [...]: one gather (a slice would take four ops)."""
    return tf.gather(sequence, t)


def _backward(
    transition_gradient,
    projected,
    kernel,
    saved,
    d_outputs,
    d_final_states,
    mask,
    recurrent_mask,
    variables,
):
    """Reverse loop: per-step elementwise derivatives, then whole-sequence matmuls.

    Args:
        transition_gradient: `cell.transition_gradient`, possibly XLA-fused.
        projected: [T, B, P] for cells without a cache (their derivative recomputes
            the step), else None.
        kernel: U [units, R].
        saved: the records of `_forward(save=True)` ([T, B, ·] tensors).
        d_outputs: [T, B, units]; d_final_states: list of [B, S_i].

    Returns:
        d_projected [T, B, P]; d_recurrents [T, B, R], the gradient of each step's
        U·h + b, or None where it equals d_projected; d_initial_states;
        d_variables (gradients of the `transition_weights` in `variables`).
    """
    steps = tf.shape(d_outputs)[0]
    dtype = d_outputs.dtype
    kernel_t_blocks = _column_blocks(tf.transpose(kernel))
    saved_states = saved["states"]
    saved_cache = saved["cache"]
    # Whether the cell returned d_recurrent = None (equal to d_projected); set while
    # tracing the body (or running it, eagerly): then only d_projected is stored.
    shared = []

    carry = {
        "d_states": d_final_states,
        "d_projected": tf.TensorArray(dtype, size=steps),
        "d_recurrent": tf.TensorArray(dtype, size=steps),
        "d_variables": [tf.zeros_like(v) for v in variables],
    }
    if mask is not None:
        mask = mask[:, :, None]  # [T, B, 1]
        zero = tf.zeros([], dtype)  # broadcast by the selects
        carry["d_previous_output"] = tf.zeros_like(d_outputs[0])

    def body(t, carry):
        states = [_at(s, t) for s in saved_states]
        d_output = _at(d_outputs, t)
        d_states = carry["d_states"]
        d_new_states = d_states
        carry = dict(carry)
        if mask is not None:
            d_output = d_output + carry["d_previous_output"]
            live = _at(mask, t)
            dead = tf.logical_not(live)
            # A masked step passes the state and output gradients on unchanged.
            d_carried = [_where(dead, d, zero) for d in d_states]
            carry["d_previous_output"] = _where(dead, d_output, zero)
            d_output = _where(live, d_output, zero)
            d_new_states = [_where(live, d, zero) for d in d_states]
        if saved_cache:
            step_input = recurrent = None
            cache = [_at(c, t) for c in saved_cache]
        else:
            step_input = _at(projected, t)
            recurrent = _at(saved["recurrent"][0], t)
            cache = None
        d_step_input, d_recurrent, d_previous, d_vars_step = transition_gradient(
            step_input,
            recurrent,
            states,
            d_output,
            d_new_states,
            recurrent_mask,
            variables,
            cache=cache,
        )
        d_previous = list(d_previous)
        if d_recurrent is None:
            shared.append(True)
            d_recurrent = d_step_input
        else:
            carry["d_recurrent"] = carry["d_recurrent"].write(t, d_recurrent)
        d_h = _blocked_matmul(d_recurrent, kernel_t_blocks)
        if recurrent_mask is not None:
            d_h = d_h * recurrent_mask
        d_previous[0] = d_h if d_previous[0] is None else d_previous[0] + d_h
        if mask is not None:
            d_previous = [c if d is None else d + c for d, c in zip(d_previous, d_carried)]
        d_previous = [
            tf.zeros_like(s) if d is None else tf.convert_to_tensor(d, dtype)
            for d, s in zip(d_previous, states)
        ]
        carry["d_states"] = d_previous
        carry["d_projected"] = carry["d_projected"].write(t, d_step_input)
        carry["d_variables"] = [
            a + tf.convert_to_tensor(g) for a, g in zip(carry["d_variables"], d_vars_step)
        ]
        return t - 1, carry

    _, carry = tf.while_loop(
        lambda t, _: t >= 0, body, (steps - 1, carry), maximum_iterations=steps
    )
    d_projected = carry["d_projected"].stack()
    d_recurrents = None if shared else carry["d_recurrent"].stack()
    return d_projected, d_recurrents, carry["d_states"], carry["d_variables"]


def _recurrent_weight_gradients(h_sequence, d_recurrents, recurrent_mask):
    """dU and db as one matmul and one sum over the whole sequence.

    Args:
        h_sequence: [T, B, units], the h each step started from.
        d_recurrents: [T, B, R], the gradient of each step's U·h + b.
        recurrent_mask: optional [B, units] dropout mask applied to h before U.

    Returns:
        d_kernel [units, R], d_bias [R].
    """
    if recurrent_mask is not None:
        h_sequence = h_sequence * recurrent_mask
    units = tf.shape(h_sequence)[-1]
    width = tf.shape(d_recurrents)[-1]
    d_kernel = tf.matmul(
        tf.reshape(h_sequence, [-1, units]), tf.reshape(d_recurrents, [-1, width]), transpose_a=True
    )
    return d_kernel, tf.reduce_sum(d_recurrents, axis=[0, 1])
