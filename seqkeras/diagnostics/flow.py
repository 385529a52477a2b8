"""Exact gradient flow through a seqkeras cell: ‖∂L_t/∂s_k‖ for every pair k ≤ t.

The lecture notes' analysis of vanishing and exploding gradients::

    ∂L_t/∂s_k = ∂L_t/∂s_t · ∂s_t/∂s_k,     ∂s_t/∂s_k = Π_{j=k+1..t} J_j,
    J_j = ∂s_j/∂s_{j-1}   (for Elman: diag f'(a_j) Uᵀ in column convention)

`gradient_flow` re-runs a cell step by step (the same `project_inputs`,
`recurrent_projection` and `transition` the fast `Recurrent` layer uses), takes every
step Jacobian J_j over the FULL state s = [h] or [h; c] with
`tf.GradientTape.batch_jacobian`, and propagates the cotangents of every loss term
L_t backwards through them. The numbers are exact (no sampling, no finite
differences); tests check them against an explicit product of Jacobians.

`capture_upstream` runs a whole Keras model on a real batch and returns, for every
seqkeras `Recurrent` layer in it (also inside `StackedRecurrent`/`Bidirectional`),
the layer's input sequence, initial states and ∂L/∂(outputs), so that
`model_gradient_flow` can measure each layer of a deep model on real data.
"""

import contextlib
import dataclasses
import weakref

import numpy as np
import tensorflow as tf

from seqkeras.layers.recurrent import Recurrent


# -- one explicit step ------------------------------------------------------------
def state_sizes(cell):
    return [int(s) for s in cell.state_size]


def flatten_states(states):
    """list of [B, S_i] -> [B, ΣS_i] (h first)."""
    return tf.concat(list(states), axis=-1)


def split_states(cell, flat):
    """[B, ΣS_i] -> list of [B, S_i]."""
    return tf.split(flat, state_sizes(cell), axis=-1)


def cell_step(cell, projected, states):
    """One step from a precomputed input projection: (output, new_states)."""
    recurrent = None
    if cell.recurrent_projection_size:
        recurrent = cell.recurrent_projection(states[0])
    return cell.transition(projected, recurrent, list(states))


def flat_step(cell, projected, flat_states):
    """One step on the flattened state: [B, P], [B, S] -> [B, S]."""
    _, new_states = cell_step(cell, projected, split_states(cell, flat_states))
    return flatten_states(new_states)


def initial_flat_state(cell, sequences, initial_states=None):
    if initial_states is None:
        initial_states = cell.get_initial_state(tf.shape(sequences)[0])
    return flatten_states([tf.cast(s, sequences.dtype) for s in initial_states])


def embed_output_gradient(cell, output_gradient):
    """∂L/∂y_t [B, units] -> ∂L/∂s_t [B, S]: the output of every seqkeras cell is h = s[0]."""
    rest = sum(state_sizes(cell)[1:])
    if not rest:
        return output_gradient
    zeros = tf.zeros(tf.concat([tf.shape(output_gradient)[:-1], [rest]], 0), output_gradient.dtype)
    return tf.concat([output_gradient, zeros], axis=-1)


# -- results ----------------------------------------------------------------------
@dataclasses.dataclass
class GradientFlow:
    """Gradient flow of one recurrent layer on one batch (NumPy arrays).

    Time indices: states s_0 (initial) … s_T; step t = 1..T maps s_{t-1} to s_t and
    emits y_t = h_t, on which the loss term L_t depends.

    Attributes:
        pair_norms: [B, T, T+1]; pair_norms[b, t-1, k] = ‖∂L_t/∂s_k‖ (full state
            [h; c] for two-state cells) for k ≤ t, 0 for k > t.
        pair_h_norms: [B, T, T+1], the same restricted to the h part of s_k.
        total_norms: [B, T+1], ‖∂L/∂s_k‖ for L = Σ_t L_t (what BPTT sees).
        step_jacobian_norms: [B, T], spectral norm ‖J_t‖₂ = ‖∂s_t/∂s_{t-1}‖₂.
        product_norms: [B, T+1], ‖∂s_T/∂s_k‖₂ (the Jacobian product to the end).
        upstream_norms: [B, T], ‖∂L_t/∂s_t‖ (zero where step t carries no loss).
        name: label (layer or cell name).
    """

    pair_norms: np.ndarray
    pair_h_norms: np.ndarray
    total_norms: np.ndarray
    step_jacobian_norms: np.ndarray
    product_norms: np.ndarray
    upstream_norms: np.ndarray
    name: str = ""

    @property
    def steps(self):
        return self.pair_norms.shape[1]

    def distance_curve(self, normalized=False, part="state"):
        """Mean ‖∂L_t/∂s_{t−d}‖ over examples and over the t that carry a loss.

        Args:
            normalized: divide by ‖∂L_t/∂s_t‖ first (a pure decay curve, 1 at d = 0).
            part: "state" (full state) or "h".

        Returns:
            (distances [T], values [T]); values are NaN where no pair exists.
        """
        norms = self.pair_norms if part == "state" else self.pair_h_norms
        steps = self.steps
        values = np.full(steps, np.nan)
        for d in range(steps):
            collected = []
            for t in range(max(d, 1), steps + 1):
                upstream = self.upstream_norms[:, t - 1]
                valid = upstream > 0
                if not valid.any():
                    continue
                value = norms[valid, t - 1, t - d]
                if normalized:
                    value = value / upstream[valid]
                collected.append(value)
            if collected:
                values[d] = float(np.mean(np.concatenate(collected)))
        return np.arange(steps), values

    def product_curve(self):
        """(distances, mean ‖∂s_T/∂s_{T−d}‖₂) for d = 0..T."""
        steps = self.steps
        return np.arange(steps + 1), self.product_norms.mean(axis=0)[::-1]

    def summary(self):
        """Scalar summaries: decay at the longest distance, mean step Jacobian norm."""
        distances, decay = self.distance_curve(normalized=True)
        finite = np.isfinite(decay)
        far = int(distances[finite][-1]) if finite.any() else 0
        return {
            "max_distance": far,
            "decay_at_max_distance": float(decay[finite][-1]) if finite.any() else float("nan"),
            "mean_step_jacobian_norm": float(self.step_jacobian_norms.mean()),
            "mean_total_grad_norm": float(self.total_norms.mean()),
        }


def _spectral_norm(matrices):
    return tf.linalg.svd(matrices, compute_uv=False)[..., 0]


def step_jacobians(cell, sequences, initial_states=None):
    """All step Jacobians J_t = ∂s_t/∂s_{t-1} over the full state.

    Args:
        cell: a built seqkeras cell.
        sequences: [B, T, D] inputs in processing order.
        initial_states: optional list of [B, S_i].

    Returns:
        (jacobians [T, B, S, S], states [T+1, B, S]).
    """
    sequences = tf.convert_to_tensor(sequences, cell.compute_dtype)
    if not cell.built:
        cell.build(sequences.shape)
    projected = cell.project_inputs(sequences)
    flat = initial_flat_state(cell, sequences, initial_states)
    step = _jacobian_step(cell)
    states, jacobians = [flat], []
    for t in range(sequences.shape[1]):
        flat, jacobian = step(projected[:, t], flat)
        jacobians.append(jacobian)
        states.append(flat)
    return tf.stack(jacobians), tf.stack(states)


_JACOBIAN_STEPS = weakref.WeakKeyDictionary()


def _jacobian_step(cell):
    """A compiled (new_state, J) = step(projected_t, state) per cell, traced once."""
    if cell not in _JACOBIAN_STEPS:

        @tf.function(reduce_retracing=True)
        def step(projected, flat):
            with tf.GradientTape() as tape:
                tape.watch(flat)
                new = flat_step(cell, projected, flat)
            return new, tape.batch_jacobian(new, flat)

        _JACOBIAN_STEPS[cell] = step
    return _JACOBIAN_STEPS[cell]


def gradient_flow(cell, sequences, output_gradients, initial_states=None,
                  final_state_gradient=None, name=""):
    """Exact ‖∂L_t/∂s_k‖ for all k ≤ t, from the step Jacobians.

    Args:
        cell: a built seqkeras cell.
        sequences: [B, T, D], the cell's inputs in processing order.
        output_gradients: [B, T, units], ∂L/∂y_t = ∂L_t/∂y_t (zeros where a step
            carries no loss, e.g. all but the last for a sequence-to-vector model).
        initial_states: optional list of [B, S_i].
        final_state_gradient: optional [B, S], ∂L/∂s_T through returned states;
            counted as part of L_T.
        name: label for plots.

    Returns:
        A `GradientFlow`.

    Example:
        >>> cell = ElmanCell(8); x = np.random.randn(4, 20, 3).astype("float32")
        >>> g = np.zeros((4, 20, 8), "float32"); g[:, -1] = 1.0
        >>> flow = gradient_flow(cell, x, g)
        >>> flow.distance_curve(normalized=True)[1]   # decay with distance
    """
    jacobians, _ = step_jacobians(cell, sequences, initial_states)
    steps = int(jacobians.shape[0])
    units = int(state_sizes(cell)[0])
    upstream = embed_output_gradient(cell, tf.cast(output_gradients, jacobians.dtype))
    upstream = tf.transpose(upstream, [1, 0, 2])  # [T, B, S]
    if final_state_gradient is not None:
        last = upstream[-1] + tf.cast(final_state_gradient, jacobians.dtype)
        upstream = tf.concat([upstream[:-1], last[None]], axis=0)
    batch = tf.shape(upstream)[1]
    size = upstream.shape[-1]
    # cotangents[:, t-1] = ∂L_t/∂s_k while walking k = T .. 0
    cotangents = tf.zeros([batch, steps, size], upstream.dtype)
    pair, pair_h, total = [None] * (steps + 1), [None] * (steps + 1), [None] * (steps + 1)
    product = tf.eye(size, batch_shape=[batch], dtype=upstream.dtype)
    product_norms = [None] * (steps + 1)
    inject = tf.transpose(upstream, [1, 0, 2])  # [B, T, S]
    source = tf.range(steps)
    for k in range(steps, -1, -1):
        if k >= 1:
            onehot = tf.cast(tf.equal(source, k - 1), upstream.dtype)[None, :, None]
            cotangents = cotangents + onehot * inject
        pair[k] = tf.norm(cotangents, axis=-1)
        pair_h[k] = tf.norm(cotangents[..., :units], axis=-1)
        total[k] = tf.norm(tf.reduce_sum(cotangents, axis=1), axis=-1)
        product_norms[k] = _spectral_norm(product)
        if k >= 1:
            jacobian = jacobians[k - 1]
            cotangents = tf.einsum("bts,bsr->btr", cotangents, jacobian)
            product = tf.matmul(product, jacobian)
    return GradientFlow(
        pair_norms=tf.stack(pair, axis=-1).numpy(),
        pair_h_norms=tf.stack(pair_h, axis=-1).numpy(),
        total_norms=tf.stack(total, axis=-1).numpy(),
        step_jacobian_norms=tf.transpose(_spectral_norm(jacobians)).numpy(),
        product_norms=tf.stack(product_norms, axis=-1).numpy(),
        upstream_norms=tf.transpose(tf.norm(upstream, axis=-1)).numpy(),
        name=name,
    )


# -- models -----------------------------------------------------------------------
def find_recurrent_layers(model):
    """Every seqkeras `Recurrent` layer inside `model`, depth first, in build order."""
    found = []

    def visit(layer):
        if isinstance(layer, Recurrent):
            found.append(layer)
            return
        children = layer._flatten_layers(include_self=False, recursive=False)
        for child in children:
            visit(child)

    visit(model)
    unique, seen = [], set()
    for layer in found:
        if id(layer) not in seen:
            seen.add(id(layer))
            unique.append(layer)
    return unique


@dataclasses.dataclass
class LayerCapture:
    """What one `Recurrent` layer saw and received on one batch."""

    layer: Recurrent
    sequences: tf.Tensor = None        # [B, T, D], processing order
    initial_states: list = None
    mask: tf.Tensor = None
    probes: list = None                 # zero tensors added to the layer's outputs
    output_gradients: tf.Tensor = None  # [B, T, units], processing order
    final_state_gradient: tf.Tensor = None  # [B, S] or None


@contextlib.contextmanager
def probe_layers(layers, tape):
    """Patch each layer's `call` to record its inputs and add watched zero probes.

    Yields a dict layer-name -> `LayerCapture`; after the loss is computed,
    `tape.gradient(loss, capture.probes)` gives ∂L/∂(outputs).
    """
    captures = {layer.name: LayerCapture(layer) for layer in layers}
    saved = {}  # id(layer) -> the instance attribute `call`, if there was one
    for layer in layers:
        original = layer.call
        if "call" in layer.__dict__:
            saved[id(layer)] = layer.__dict__["call"]

        def patched(sequences, initial_state=None, mask=None, training=False,
                    _layer=layer, _original=original):
            outputs = _original(sequences, initial_state=initial_state, mask=mask, training=training)
            capture = captures[_layer.name]
            inputs = tf.cast(sequences, _layer.compute_dtype)
            capture.initial_states = [
                tf.cast(s, _layer.compute_dtype)
                for s in _layer._initial_states(inputs, initial_state)
            ]
            if _layer.go_backwards:
                inputs = tf.reverse(inputs, axis=[1])
            capture.sequences = inputs
            capture.mask = mask
            flat = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
            probes = [tf.zeros_like(o) for o in flat]
            for probe in probes:
                tape.watch(probe)
            capture.probes = probes
            flat = [o + p for o, p in zip(flat, probes)]
            return flat if isinstance(outputs, (list, tuple)) else flat[0]

        layer.call = patched
    try:
        yield captures
    finally:
        for layer in layers:
            if id(layer) in saved:
                layer.__dict__["call"] = saved[id(layer)]
            elif "call" in layer.__dict__:
                del layer.__dict__["call"]  # the class method shows through again


def resolve_upstream(capture, probe_gradients):
    """Turn ∂L/∂(probes) into per-step output gradients and a final-state gradient."""
    layer = capture.layer
    sequences = capture.sequences
    steps = sequences.shape[1]
    output_gradient = probe_gradients[0]
    if output_gradient is None:
        output_gradient = tf.zeros_like(capture.probes[0])
    if not layer.return_sequences:
        # only the last processed step's output reaches the loss
        batch = tf.shape(output_gradient)[0]
        zeros = tf.zeros([batch, steps - 1, output_gradient.shape[-1]], output_gradient.dtype)
        output_gradient = tf.concat([zeros, output_gradient[:, None]], axis=1)
    final = None
    if layer.return_state:
        parts = [
            g if g is not None else tf.zeros_like(p)
            for g, p in zip(probe_gradients[1:], capture.probes[1:])
        ]
        final = flatten_states(parts)
    capture.output_gradients = output_gradient
    capture.final_state_gradient = final
    return capture


def capture_upstream(model, x, y, sample_weight=None, loss_fn=None, layers=None,
                     training=False):
    """Run `model` on a real batch; return per-layer inputs and ∂L/∂(layer outputs).

    Args:
        model: a Keras model containing seqkeras `Recurrent` layers.
        x, y: one batch.
        loss_fn: `loss_fn(y, y_pred) -> scalar`; default the compiled loss
            (`model.compute_loss`).
        layers: restrict to these `Recurrent` layers (default: all of them).
        training: call the model in training mode (dropout on) — off by default.

    Returns:
        (loss, list of `LayerCapture` with `output_gradients` filled).
    """
    layers = find_recurrent_layers(model) if layers is None else list(layers)
    if not layers:
        raise ValueError(f"Model {model.name!r} contains no seqkeras Recurrent layer")
    with tf.GradientTape() as tape:
        with probe_layers(layers, tape) as captures:
            y_pred = model(x, training=training)
        if loss_fn is not None:
            loss = loss_fn(y, y_pred)
        else:
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                      training=training)
    used = [c for c in captures.values() if c.probes is not None]
    gradients = tape.gradient(loss, [c.probes for c in used])
    return loss, [resolve_upstream(c, g) for c, g in zip(used, gradients)]


def model_gradient_flow(model, x, y, sample_weight=None, loss_fn=None, layers=None,
                        max_examples=16):
    """`gradient_flow` of every seqkeras `Recurrent` layer of `model` on one batch.

    Returns:
        dict layer-name -> `GradientFlow` (bottom layer first).
    """
    if max_examples is not None:
        x, y = _take(x, max_examples), _take(y, max_examples)
        sample_weight = None if sample_weight is None else _take(sample_weight, max_examples)
    _, captures = capture_upstream(model, x, y, sample_weight, loss_fn, layers)
    flows = {}
    for capture in captures:
        flows[capture.layer.name] = gradient_flow(
            capture.layer.cell,
            capture.sequences,
            capture.output_gradients,
            initial_states=capture.initial_states,
            final_state_gradient=capture.final_state_gradient,
            name=capture.layer.name,
        )
    return flows


def _take(data, count):
    return tf.nest.map_structure(lambda a: a[:count], data)


__all__ = [
    "GradientFlow",
    "LayerCapture",
    "capture_upstream",
    "cell_step",
    "find_recurrent_layers",
    "gradient_flow",
    "model_gradient_flow",
    "probe_layers",
    "step_jacobians",
]
