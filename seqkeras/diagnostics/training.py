"""Training against exploding and vanishing gradients: clipping and Pascanu's regulariser.

`GradientControl` wraps any Keras model whose recurrences are seqkeras `Recurrent`
layers and replaces `train_step`:

- clipping by global norm (if ‖g‖ > v then g ← g·v/‖g‖) or by value
  (g ← clip(g, −v, v)); the pre-clip global norm (`grad_norm`) and the fraction of
  steps where clipping engaged (`clipped`) are logged as metrics, so `fit` history
  and `keras.callbacks.TensorBoard` record them;
- Pascanu et al. (2013)'s regulariser, opt-in::

      Ω = Σ_t ( ‖∂E/∂s_t · ∂s_t/∂s_{t−1}‖ / ‖∂E/∂s_t‖ − 1 )²

  added as `pascanu * Ω` to the loss of every seqkeras recurrent layer (s = full
  state). As in the paper, ∂E/∂s_t and the states are held constant when Ω is
  differentiated; only the Jacobian's dependence on the weights is trained.
"""

import keras
import tensorflow as tf

from seqkeras.diagnostics.flow import (
    find_recurrent_layers,
    flat_step,
    initial_flat_state,
    embed_output_gradient,
    probe_layers,
    resolve_upstream,
)

EPSILON = 1e-12


def state_gradients(cell, sequences, output_gradients, initial_states=None,
                    final_state_gradient=None):
    """∂E/∂s_t for t = 1..T by the BPTT recursion δ_t = g_t + δ_{t+1} J_{t+1}.

    Args:
        cell: a built seqkeras cell.
        sequences: [B, T, D] (processing order).
        output_gradients: [B, T, units], ∂E/∂y_t.
        initial_states: optional list of [B, S_i].
        final_state_gradient: optional [B, S].

    Returns:
        (deltas [T, B, S] for s_1..s_T, previous states [T, B, S] = s_0..s_{T-1},
        projected inputs [T, B, P]).
    """
    sequences = tf.convert_to_tensor(sequences, cell.compute_dtype)
    projected = tf.transpose(cell.project_inputs(sequences), [1, 0, 2])
    flat = initial_flat_state(cell, sequences, initial_states)
    steps = sequences.shape[1]
    previous = []
    for t in range(steps):
        previous.append(flat)
        flat = flat_step(cell, projected[t], flat)
    upstream = embed_output_gradient(cell, tf.cast(output_gradients, flat.dtype))
    delta = upstream[:, -1]
    if final_state_gradient is not None:
        delta = delta + tf.cast(final_state_gradient, delta.dtype)
    deltas = [delta]
    for t in range(steps - 1, 0, -1):  # δ_t = g_t + δ_{t+1} J_{t+1}
        state = previous[t]
        with tf.GradientTape() as tape:
            tape.watch(state)
            new = flat_step(cell, projected[t], state)
        delta = upstream[:, t - 1] + tape.gradient(new, state, output_gradients=delta)
        deltas.append(delta)
    return tf.stack(deltas[::-1]), tf.stack(previous), projected


def pascanu_terms(cell, deltas, previous, projected):
    """Per-step ratios ‖δ_t J_t‖ / ‖δ_t‖ (differentiable w.r.t. the cell's weights).

    Args:
        deltas: [T, B, S], ∂E/∂s_t (constants).
        previous: [T, B, S], s_{t-1} (constants).
        projected: [T, B, P], W·x_t + b (may carry gradient to W, b).

    Returns:
        (ratios [T, B], valid [T, B] bool: ‖δ_t‖ > 0).
    """
    deltas = tf.stop_gradient(deltas)
    previous = tf.stop_gradient(previous)
    steps, batch = tf.shape(deltas)[0], tf.shape(deltas)[1]
    size, width = deltas.shape[-1], projected.shape[-1]
    flat_prev = tf.reshape(previous, [-1, size])
    flat_delta = tf.reshape(deltas, [-1, size])
    with tf.GradientTape() as tape:
        tape.watch(flat_prev)
        new = flat_step(cell, tf.reshape(projected, [-1, width]), flat_prev)
    back = tape.gradient(new, flat_prev, output_gradients=flat_delta)  # δ_t J_t
    delta_norm = tf.norm(flat_delta, axis=-1)
    valid = delta_norm > EPSILON
    ratio = tf.norm(back + 0.0 * flat_delta, axis=-1) / tf.where(valid, delta_norm, 1.0)
    return tf.reshape(ratio, [steps, batch]), tf.reshape(valid, [steps, batch])


def pascanu_regularizer(cell, sequences, output_gradients, initial_states=None,
                        final_state_gradient=None):
    """Ω = Σ_t (‖∂E/∂s_t · ∂s_t/∂s_{t−1}‖ / ‖∂E/∂s_t‖ − 1)², averaged over the batch.

    Steps where ‖∂E/∂s_t‖ = 0 contribute nothing.
    """
    deltas, previous, projected = state_gradients(
        cell, sequences, output_gradients, initial_states, final_state_gradient
    )
    ratio, valid = pascanu_terms(cell, deltas, previous, projected)
    terms = tf.where(valid, tf.square(ratio - 1.0), 0.0)
    return tf.reduce_mean(tf.reduce_sum(terms, axis=0))


def clip_gradients(gradients, clip_norm=None, clip_value=None):
    """Clip by global norm and/or value.

    Returns:
        (clipped gradients, pre-clip global norm, clipped: float 0/1 for this step).
    """
    present = [g for g in gradients if g is not None]
    norm = tf.linalg.global_norm(present)
    clipped = tf.constant(False)
    if clip_value is not None:
        largest = tf.reduce_max([tf.reduce_max(tf.abs(g)) for g in present])
        clipped = tf.logical_or(clipped, largest > clip_value)
        gradients = [
            None if g is None else tf.clip_by_value(g, -clip_value, clip_value) for g in gradients
        ]
    if clip_norm is not None:
        current = tf.linalg.global_norm([g for g in gradients if g is not None])
        clipped = tf.logical_or(clipped, current > clip_norm)
        scale = tf.minimum(1.0, clip_norm / tf.maximum(current, EPSILON))
        gradients = [None if g is None else g * scale for g in gradients]
    return gradients, norm, tf.cast(clipped, tf.float32)


@keras.saving.register_keras_serializable(package="seqkeras")
class GradientControl(keras.Model):
    """Wrap `model` with a train step that clips, logs and (optionally) regularises.

    Metrics added to the logs: `grad_norm` (mean pre-clip global gradient norm),
    `clipped` (fraction of steps where clipping engaged) and, with `pascanu > 0`,
    `omega` (Pascanu's Ω summed over the recurrent layers).

    Args:
        model: a Keras model (its seqkeras `Recurrent` layers are regularised).
        clip_norm: clip by global norm v (if ‖g‖ > v then g ← g·v/‖g‖), or None.
        clip_value: clip every gradient entry into [−v, v], or None.
        pascanu: weight λ of Pascanu's Ω (0 disables it).

    Example:
        >>> trainer = GradientControl(model, clip_norm=1.0, pascanu=0.1)
        >>> trainer.compile(optimizer="adam", loss="mse")
        >>> trainer.fit(dataset).history["clipped"]
    """

    def __init__(self, model, clip_norm=None, clip_value=None, pascanu=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("clip_norm", clip_norm), ("clip_value", clip_value)):
            if value is not None and not value > 0:
                raise ValueError(
                    f"Argument `{name}` must be positive or None, received {name}={value!r}"
                )
        if pascanu < 0:
            raise ValueError(f"Argument `pascanu` must be ≥ 0, received pascanu={pascanu!r}")
        if isinstance(model, dict):
            model = keras.saving.deserialize_keras_object(model)
        self.model = model
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.pascanu = float(pascanu)
        self.grad_norm_tracker = keras.metrics.Mean(name="grad_norm")
        self.clipped_tracker = keras.metrics.Mean(name="clipped")
        self.omega_tracker = keras.metrics.Mean(name="omega")
        if getattr(model, "built", False):
            self.built = True  # a built (e.g. functional) model: nothing left to build

    def call(self, inputs, training=False):
        return self.model(inputs, training=training)

    def build(self, input_shape):
        if not self.model.built:
            self.model.build(input_shape)
        self.built = True

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        variables = self.trainable_variables
        omega = tf.constant(0.0)
        with tf.GradientTape(persistent=bool(self.pascanu)) as tape:
            if self.pascanu:
                layers = find_recurrent_layers(self.model)
                with probe_layers(layers, tape) as captures:
                    y_pred = self(x, training=True)
            else:
                y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                     training=True)
            if self.pascanu:
                used = [c for c in captures.values() if c.probes is not None]
                with tape.stop_recording():
                    probe_grads = tape.gradient(loss, [c.probes for c in used])
                for capture, grads in zip(used, probe_grads):
                    resolve_upstream(capture, [
                        None if g is None else tf.stop_gradient(g) for g in grads
                    ])
                    with tape.stop_recording():
                        deltas, previous, _ = state_gradients(
                            capture.layer.cell, tf.stop_gradient(capture.sequences),
                            capture.output_gradients,
                            [tf.stop_gradient(s) for s in capture.initial_states],
                            capture.final_state_gradient,
                        )
                    cell = capture.layer.cell
                    projected = tf.transpose(cell.project_inputs(capture.sequences), [1, 0, 2])
                    ratio, valid = pascanu_terms(cell, deltas, previous, projected)
                    terms = tf.where(valid, tf.square(ratio - 1.0), 0.0)
                    omega = omega + tf.reduce_mean(tf.reduce_sum(terms, axis=0))
            total = loss + self.pascanu * omega
        gradients = tape.gradient(total, variables)
        if self.pascanu:
            del tape
        gradients, norm, clipped = clip_gradients(gradients, self.clip_norm, self.clip_value)
        self.optimizer.apply(gradients, variables)
        self.grad_norm_tracker.update_state(norm)
        self.clipped_tracker.update_state(clipped)
        if self.pascanu:
            self.omega_tracker.update_state(omega)
        own = (self.grad_norm_tracker, self.clipped_tracker, self.omega_tracker)
        compiled = [m for m in self.metrics if not any(m is o for o in own)]
        logs = {}
        for metric in compiled:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
            result = metric.result()
            if isinstance(result, dict):
                logs.update(result)
            else:
                logs[metric.name] = result
        logs["grad_norm"] = self.grad_norm_tracker.result()
        logs["clipped"] = self.clipped_tracker.result()
        if self.pascanu:
            logs["omega"] = self.omega_tracker.result()
        return logs

    def get_config(self):
        return {
            **super().get_config(),
            "model": keras.saving.serialize_keras_object(self.model),
            "clip_norm": self.clip_norm,
            "clip_value": self.clip_value,
            "pascanu": self.pascanu,
        }
