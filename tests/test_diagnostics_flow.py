"""Exactness of the gradient-flow measurement against explicit Jacobian products."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqkeras.cells import ElmanCell, LSTMCell
from seqkeras.diagnostics import gradient_flow, model_gradient_flow, step_jacobians
from seqkeras.diagnostics.flow import cell_step, flatten_states
from seqkeras.layers import Recurrent, StackedRecurrent

STEPS, BATCH, DIM = 5, 2, 3


def _explicit_pairs(cell, x, upstream):
    """‖∂L_t/∂s_k‖ from an explicit product of per-example Jacobians (tape.jacobian)."""
    projected = cell.project_inputs(tf.constant(x))
    sizes = [int(s) for s in cell.state_size]
    expected = np.zeros((BATCH, STEPS, STEPS + 1))
    for b in range(BATCH):
        state = [tf.zeros((1, s)) for s in sizes]
        jacobians = []
        for t in range(STEPS):
            flat = flatten_states(state)
            with tf.GradientTape() as tape:
                tape.watch(flat)
                _, new = cell_step(cell, projected[b:b + 1, t], tf.split(flat, sizes, -1))
                new_flat = flatten_states(new)
            jac = tape.jacobian(new_flat, flat).numpy()[0, :, 0, :]  # [S, S]
            jacobians.append(jac)
            state = new
        size = sum(sizes)
        for t in range(1, STEPS + 1):
            grad_t = np.zeros(size)
            grad_t[: sizes[0]] = upstream[b, t - 1]
            for k in range(t, -1, -1):
                product = np.eye(size)
                for j in range(t, k, -1):          # J_t J_{t-1} ... J_{k+1}
                    product = product @ jacobians[j - 1]
                expected[b, t - 1, k] = np.linalg.norm(grad_t @ product)
    return expected


def _probe_pairs(cell, x, upstream):
    """The same numbers by plain autodiff: zero probes added to every state s_k."""
    projected = cell.project_inputs(tf.constant(x))
    sizes = [int(s) for s in cell.state_size]
    probes = [tf.zeros((BATCH, sum(sizes))) for _ in range(STEPS + 1)]
    expected = np.zeros((BATCH, STEPS, STEPS + 1))
    for t in range(1, STEPS + 1):
        with tf.GradientTape() as tape:
            tape.watch(probes)
            flat = probes[0]
            for j in range(1, t + 1):
                _, new = cell_step(cell, projected[:, j - 1], tf.split(flat, sizes, -1))
                flat = flatten_states(new) + probes[j]
            loss = tf.reduce_sum(flat[:, : sizes[0]] * upstream[:, t - 1])  # y_t = h_t
        grads = tape.gradient(loss, probes[: t + 1])
        for k in range(t + 1):
            expected[:, t - 1, k] = tf.norm(grads[k], axis=-1).numpy()
    return expected


@pytest.mark.parametrize(
    "cell", [lambda: ElmanCell(4), lambda: LSTMCell(3), lambda: LSTMCell(3, variant="peephole")]
)
def test_pair_norms_equal_explicit_jacobian_product(cell):
    rng = np.random.default_rng(0)
    cell = cell()
    x = rng.normal(size=(BATCH, STEPS, DIM)).astype("float32")
    cell.build((BATCH, STEPS, DIM))
    if cell.transition_weights:
        for w in cell.transition_weights:
            w.assign(rng.normal(size=w.shape).astype("float32"))
    upstream = rng.normal(size=(BATCH, STEPS, cell.units)).astype("float32")
    flow = gradient_flow(cell, x, upstream)
    explicit = _explicit_pairs(cell, x, upstream)
    mask = np.tril(np.ones((STEPS, STEPS + 1)), k=1).astype(bool)
    np.testing.assert_allclose(flow.pair_norms[:, mask], explicit[:, mask], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(flow.pair_norms, _probe_pairs(cell, x, upstream), rtol=1e-4, atol=1e-6)
    assert np.all(flow.pair_norms[:, ~mask] == 0)


def test_step_and_product_norms():
    rng = np.random.default_rng(1)
    cell = ElmanCell(4, activation="linear", use_bias=False)
    x = rng.normal(size=(BATCH, STEPS, DIM)).astype("float32")
    jacobians, _ = step_jacobians(cell, x)
    # linear Elman: J_t = Uᵀ for every t (row convention ∂s_t/∂s_{t-1})
    u = cell.recurrent_kernel.numpy()
    np.testing.assert_allclose(jacobians.numpy()[0, 0], u.T, rtol=1e-5, atol=1e-6)
    flow = gradient_flow(cell, x, np.ones((BATCH, STEPS, 4), "float32"))
    spectral = np.linalg.norm(u, 2)
    np.testing.assert_allclose(flow.step_jacobian_norms, spectral, rtol=1e-4)
    np.testing.assert_allclose(flow.product_norms[:, 0], np.linalg.norm(np.linalg.matrix_power(u, STEPS), 2), rtol=1e-4)


def test_model_gradient_flow_per_layer_matches_full_backprop():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(BATCH, STEPS, DIM)).astype("float32")
    y = rng.normal(size=(BATCH, 1)).astype("float32")
    inputs = keras.Input((STEPS, DIM))
    hidden = StackedRecurrent([LSTMCell(3), ElmanCell(4)])(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(loss="mse")
    flows = model_gradient_flow(model, x, y)
    assert list(flows) == ["level_0", "level_1"]
    top = flows["level_1"]
    # sequence-to-vector: only the last step carries a loss
    assert np.all(top.upstream_norms[:, :-1] == 0) and np.all(top.upstream_norms[:, -1] > 0)
    # ‖∂L/∂x‖ of the whole model equals the bottom layer's input gradient via its kernel
    bottom = flows["level_0"]
    assert bottom.total_norms.shape == (BATCH, STEPS + 1)
    assert np.isfinite(bottom.distance_curve()[1]).all()
    # the layer's output is still correct while probed, and unpatched afterwards
    assert "call" not in model.layers[1].levels[0].__dict__


def test_callback_logs_tensorboard_and_plots_png(tmp_path):
    from seqkeras.diagnostics import GradientControl, GradientFlowCallback

    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, STEPS, DIM)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    inputs = keras.Input((STEPS, DIM))
    hidden = Recurrent(ElmanCell(4), name="rnn")(inputs)
    model = GradientControl(keras.Model(inputs, keras.layers.Dense(1)(hidden)), clip_norm=1.0)
    model.compile(optimizer="adam", loss="mse")
    callback = GradientFlowCallback((x, y), log_dir=str(tmp_path / "logs"), plot_dir=str(tmp_path))
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[callback])
    assert sorted(callback.flows) == [0, 1, 2] and "rnn" in callback.flows[2]
    assert (tmp_path / "gradient_flow_rnn.png").read_bytes()[:4] == b"\x89PNG"
    assert list((tmp_path / "logs" / "gradient_flow").iterdir())
