"""Clipping statistics and Pascanu's regulariser against direct computations."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqkeras.cells import ElmanCell, GRUCell, LSTMCell
from seqkeras.diagnostics.flow import cell_step, flatten_states
from seqkeras.diagnostics.training import GradientControl, clip_gradients, pascanu_regularizer
from seqkeras.layers import Recurrent

STEPS, BATCH, DIM = 4, 3, 2


def test_clip_gradients_by_norm_and_value():
    grads = [tf.constant([3.0]), tf.constant([4.0])]
    clipped, norm, flag = clip_gradients(grads, clip_norm=1.0)
    np.testing.assert_allclose([g.numpy()[0] for g in clipped], [0.6, 0.8], rtol=1e-6)
    assert float(norm) == pytest.approx(5.0) and float(flag) == 1.0
    same, _, flag = clip_gradients(grads, clip_norm=10.0)
    assert [g.numpy()[0] for g in same] == [3.0, 4.0] and float(flag) == 0.0
    by_value, norm, flag = clip_gradients(grads, clip_value=3.5)
    assert [g.numpy()[0] for g in by_value] == [3.0, 3.5] and float(flag) == 1.0


def test_fit_logs_clipped_fraction_and_pre_clip_norm():
    # w = 0 and lr = 0: the gradient of (w·x − y)² at x = 1 is −2y, per batch.
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")(inputs))
    trainer = GradientControl(model, clip_norm=1.0)
    trainer.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    x = np.ones((2, 1), "float32")
    y = np.array([[10.0], [0.1]], "float32")   # batch norms 20 and 0.2
    history = trainer.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0).history
    assert history["clipped"][0] == pytest.approx(0.5)
    assert history["grad_norm"][0] == pytest.approx((20.0 + 0.2) / 2, rel=1e-5)
    assert history["loss"][0] == pytest.approx((100 + 0.01) / 2, rel=1e-5)


def _direct_omega(cell, x, upstream):
    """Ω from ∂E/∂s_t by plain autodiff (probes) and J_t by tape.jacobian, per example."""
    projected = cell.project_inputs(tf.constant(x))
    sizes = [int(s) for s in cell.state_size]
    size = sum(sizes)
    probes = [tf.zeros((BATCH, size)) for _ in range(STEPS)]
    with tf.GradientTape() as tape:
        tape.watch(probes)
        flat = tf.zeros((BATCH, size))
        energy = 0.0
        previous = []
        for t in range(STEPS):
            previous.append(flat)
            _, new = cell_step(cell, projected[:, t], tf.split(flat, sizes, -1))
            flat = flatten_states(new) + probes[t]
            energy += tf.reduce_sum(flat[:, : sizes[0]] * upstream[:, t])
    deltas = [d.numpy() for d in tape.gradient(energy, probes)]
    omega = 0.0
    for b in range(BATCH):
        for t in range(STEPS):
            state = previous[t][b:b + 1]
            with tf.GradientTape() as jac_tape:
                jac_tape.watch(state)
                _, new = cell_step(cell, projected[b:b + 1, t], tf.split(state, sizes, -1))
                new = flatten_states(new)
            jacobian = jac_tape.jacobian(new, state).numpy()[0, :, 0, :]
            delta = deltas[t][b]
            omega += (np.linalg.norm(delta @ jacobian) / np.linalg.norm(delta) - 1.0) ** 2
    return omega / BATCH


@pytest.mark.parametrize("make_cell", [lambda: ElmanCell(3), lambda: LSTMCell(3), lambda: GRUCell(3)])
def test_pascanu_omega_matches_direct_computation(make_cell):
    rng = np.random.default_rng(0)
    cell = make_cell()
    cell.build((BATCH, STEPS, DIM))
    x = rng.normal(size=(BATCH, STEPS, DIM)).astype("float32")
    upstream = rng.normal(size=(BATCH, STEPS, 3)).astype("float32")
    omega = pascanu_regularizer(cell, x, upstream)
    assert float(omega) == pytest.approx(_direct_omega(cell, x, upstream), rel=1e-4)


def test_pascanu_train_step_logs_omega_and_moves_weights():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, STEPS, DIM)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    inputs = keras.Input((STEPS, DIM))
    hidden = Recurrent(ElmanCell(4), return_sequences=False)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    trainer = GradientControl(model, pascanu=1.0, clip_value=10.0)
    trainer.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    before = [w.numpy().copy() for w in model.weights]
    history = trainer.fit(x, y, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(history["omega"][0]) and history["omega"][0] > 0
    assert set(history) >= {"loss", "grad_norm", "clipped", "omega"}
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(before, model.weights))
