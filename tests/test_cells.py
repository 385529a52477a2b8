"""Cells inside `Recurrent` against the NumPy equations, Keras built-ins and finite differences."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import reference
from seqkeras.cells import (
    LSTM_VARIANTS,
    AdditiveCell,
    ElmanCell,
    GRUCell,
    LSTMCell,
    RANCell,
    RecurrentCell,
)
from seqkeras.layers import Recurrent

UNITS = 5
INPUT_DIM = 3

CELL_FACTORIES = {
    "elman_tanh": lambda: ElmanCell(UNITS),
    "elman_relu": lambda: ElmanCell(UNITS, activation="relu"),
    "elman_sigmoid": lambda: ElmanCell(UNITS, activation="sigmoid"),
    "elman_linear": lambda: ElmanCell(UNITS, activation="linear"),
    **{f"lstm_{v}": (lambda v=v: LSTMCell(UNITS, variant=v)) for v in LSTM_VARIANTS},
    "lstm_peephole_cifg": lambda: LSTMCell(UNITS, peephole=True, coupled_input_forget=True),
    "lstm_no_bias": lambda: LSTMCell(UNITS, use_bias=False),
    "gru_reset_after": lambda: GRUCell(UNITS, reset_after=True),
    "gru_reset_before": lambda: GRUCell(UNITS, reset_after=False),
    "additive": lambda: AdditiveCell(UNITS),
    "additive_tanh": lambda: AdditiveCell(UNITS, nonlinear=True),
    "ran_tanh": lambda: RANCell(UNITS),
    "ran_identity": lambda: RANCell(UNITS, output_activation="linear"),
}


def input_dim_of(cell):
    return UNITS if isinstance(cell, AdditiveCell) else INPUT_DIM


def randomize(layer, seed=0, scale=0.5):
    """Give every weight random values (biases and peepholes start at 0 otherwise)."""
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        if w.trainable:
            w.assign(rng.normal(scale=scale, size=w.shape).astype(w.dtype))


def sequence_batch(batch=3, steps=6, dim=INPUT_DIM, seed=1):
    """Inputs [B, T, D] and a mask with right padding, left padding and a full row."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, dim)).astype("float32")
    mask = np.ones((batch, steps), bool)
    mask[1, 4:] = False
    mask[2, :2] = False
    return x, mask


@pytest.mark.parametrize("name", sorted(CELL_FACTORIES))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_recurrent_matches_numpy_equations(name, go_backwards):
    cell = CELL_FACTORIES[name]()
    x, mask = sequence_batch(dim=input_dim_of(cell))
    layer = Recurrent(cell, return_sequences=True, return_state=True, go_backwards=go_backwards)
    layer.build(x.shape)
    randomize(layer)
    rng = np.random.default_rng(2)
    initial = [rng.normal(size=(x.shape[0], s)).astype("float32") for s in cell.state_size]
    outputs, *states = layer(x, initial_state=initial, mask=mask)
    expected, expected_states = reference.run(
        cell, x, initial, mask=mask, go_backwards=go_backwards
    )
    np.testing.assert_allclose(outputs, expected, atol=1e-5, rtol=1e-5)
    for got, want in zip(states, expected_states):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["lstm_vanilla", "lstm_peephole", "gru_reset_before", "ran_tanh"])
@pytest.mark.parametrize("jit_compile", [True, "step"])
def test_xla_compiled_loop_matches_numpy(name, jit_compile):
    cell = CELL_FACTORIES[name]()
    x, mask = sequence_batch()
    layer = Recurrent(cell, return_sequences=True, jit_compile=jit_compile)
    layer.build(x.shape)
    randomize(layer)
    expected, _ = reference.run(cell, x, mask=mask)
    np.testing.assert_allclose(layer(x, mask=mask), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["elman_tanh", "lstm_peephole_cifg", "gru_reset_after", "ran_tanh"])
def test_cell_in_keras_rnn_matches_recurrent(name):
    cell = CELL_FACTORIES[name]()
    x, mask = sequence_batch()
    fast = Recurrent(cell, return_sequences=True)
    fast.build(x.shape)
    randomize(fast)
    slow = keras.layers.RNN(cell, return_sequences=True)
    np.testing.assert_allclose(slow(x, mask=mask), fast(x, mask=mask), atol=1e-5)


# -- Keras built-ins with copied weights -------------------------------------------


def _copy_lstm(keras_layer, cell):
    cell.kernel.assign(keras_layer.cell.kernel)
    cell.recurrent_kernel.assign(keras_layer.cell.recurrent_kernel)
    cell.bias.assign(keras_layer.cell.bias)


def _copy_gru(keras_layer, cell):
    cell.kernel.assign(keras_layer.cell.kernel)
    bias = np.array(keras_layer.cell.bias)
    recurrent = np.array(keras_layer.cell.recurrent_kernel)
    if cell.reset_after:
        cell.recurrent_kernel.assign(recurrent)
        cell.bias.assign(bias[0])
        cell.recurrent_bias.assign(bias[1])
    else:
        cell.recurrent_kernel.assign(recurrent[:, : 2 * UNITS])
        cell.candidate_kernel.assign(recurrent[:, 2 * UNITS :])
        cell.bias.assign(bias)


KERAS_TWINS = {
    "lstm": (lambda **kw: keras.layers.LSTM(UNITS, **kw), lambda: LSTMCell(UNITS), _copy_lstm),
    "gru_reset_after": (
        lambda **kw: keras.layers.GRU(UNITS, reset_after=True, **kw),
        lambda: GRUCell(UNITS, reset_after=True),
        _copy_gru,
    ),
    "gru_reset_before": (
        lambda **kw: keras.layers.GRU(UNITS, reset_after=False, **kw),
        lambda: GRUCell(UNITS, reset_after=False),
        _copy_gru,
    ),
    "simple_rnn": (
        lambda **kw: keras.layers.SimpleRNN(UNITS, **kw),
        lambda: ElmanCell(UNITS),
        _copy_lstm,
    ),
}


@pytest.mark.parametrize("twin", sorted(KERAS_TWINS))
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_matches_keras_builtin_with_copied_weights(twin, go_backwards, return_sequences):
    make_keras, make_cell, copy_weights = KERAS_TWINS[twin]
    x, mask = sequence_batch()
    options = dict(return_sequences=return_sequences, return_state=True, go_backwards=go_backwards)
    builtin = make_keras(**options)
    builtin.build(x.shape)
    randomize(builtin, seed=3)
    cell = make_cell()
    ours = Recurrent(cell, **options)
    ours.build(x.shape)
    copy_weights(builtin, cell)
    rng = np.random.default_rng(4)
    initial = [rng.normal(size=(x.shape[0], s)).astype("float32") for s in cell.state_size]
    expected = builtin(x, initial_state=initial, mask=mask)
    got = ours(x, initial_state=initial, mask=mask)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, atol=1e-5)


# -- Gradients ------------------------------------------------------------------------


def _loss_weights(batch, steps, cell, seed=5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, steps, cell.output_size)), [
        rng.normal(size=(batch, s)) for s in cell.state_size
    ]


XLA_SUBSET = ("lstm_vanilla", "lstm_peephole", "gru_reset_after", "gru_reset_before", "ran_tanh")
GRADIENT_CASES = [(name, False) for name in sorted(CELL_FACTORIES)] + [
    (name, mode) for name in XLA_SUBSET for mode in (True, "step")
]


@pytest.mark.parametrize("name,jit_compile", GRADIENT_CASES)
def test_gradients_match_finite_differences(name, jit_compile):
    """Analytic gradients of the fast path vs central differences of the equations."""
    cell = CELL_FACTORIES[name]()
    cell_dtype = "float64"
    cell = type(cell).from_config({**cell.get_config(), "dtype": cell_dtype})
    batch, steps, dim = 2, 4, input_dim_of(cell)
    rng = np.random.default_rng(6)
    x = rng.normal(size=(batch, steps, dim))
    mask = np.ones((batch, steps), bool)
    mask[1, 3:] = False
    initial = [rng.normal(size=(batch, s)) for s in cell.state_size]
    out_w, state_w = _loss_weights(batch, steps, cell)
    layer = Recurrent(cell, return_sequences=True, return_state=True, jit_compile=jit_compile, dtype=cell_dtype)
    layer.build(x.shape)
    randomize(layer, scale=0.4)

    def loss_numpy(x, initial, weights):
        outputs, states = reference.run(cell, x, initial, mask=mask, weights=weights)
        return np.sum(outputs * out_w) + sum(np.sum(s * w) for s, w in zip(states, state_w))

    xt = tf.constant(x)
    initial_t = [tf.constant(s) for s in initial]
    with tf.GradientTape() as tape:
        tape.watch([xt, *initial_t])
        outputs, *states = layer(xt, initial_state=initial_t, mask=mask)
        loss = tf.reduce_sum(outputs * out_w) + tf.add_n(
            [tf.reduce_sum(s * w) for s, w in zip(states, state_w)]
        )
    variables = layer.trainable_weights
    grads = tape.gradient(loss, [xt, *initial_t, *variables])

    weights = reference.weights_of(cell)
    eps = 1e-6

    def numeric(array, evaluate):
        g = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + eps
            up = evaluate()
            array[index] = saved - eps
            down = evaluate()
            array[index] = saved
            g[index] = (up - down) / (2 * eps)
        return g

    evaluate = lambda: loss_numpy(x, initial, weights)  # noqa: E731
    np.testing.assert_allclose(grads[0], numeric(x, evaluate), atol=1e-6, rtol=1e-5)
    for analytic, state in zip(grads[1 : 1 + len(initial)], initial):
        np.testing.assert_allclose(analytic, numeric(state, evaluate), atol=1e-6, rtol=1e-5)
    for analytic, variable in zip(grads[1 + len(initial) :], variables):
        name_ = variable.path.split("/")[-1]
        np.testing.assert_allclose(
            analytic, numeric(weights[name_], evaluate), atol=1e-6, rtol=1e-5, err_msg=name_
        )


def test_unit_forget_bias_initialises_forget_gate_to_one():
    cell = LSTMCell(4)
    cell.build((None, 3))
    bias = np.array(cell.bias)
    np.testing.assert_array_equal(bias[4:8], 1.0)
    np.testing.assert_array_equal(np.delete(bias, range(4, 8)), 0.0)


def test_variants_drop_the_weights_of_removed_gates():
    sizes = {}
    for variant in LSTM_VARIANTS:
        cell = LSTMCell(4, variant=variant)
        cell.build((None, 3))
        sizes[variant] = cell.kernel.shape[-1]
    assert sizes["vanilla"] == 16
    assert sizes["cifg"] == sizes["nig"] == sizes["nfg"] == sizes["nog"] == 12
    assert sizes["niaf"] == sizes["noaf"] == sizes["peephole"] == 16


# -- Per-step cache of the backward pass ----------------------------------------------


@pytest.mark.parametrize(
    "name", sorted(n for n in CELL_FACTORIES if not n.startswith("additive"))
)
def test_transition_gradient_matches_autodiff_with_and_without_cache(name):
    """The analytic step derivative, from the forward cache or recomputing, equals autodiff."""
    cell = type(CELL_FACTORIES[name]()).from_config(
        {**CELL_FACTORIES[name]().get_config(), "dtype": "float64"}
    )
    cell.build((None, INPUT_DIM))
    rng = np.random.default_rng(7)
    for w in cell.weights:
        w.assign(rng.normal(scale=0.5, size=w.shape))
    batch = 3
    normal = lambda *shape: tf.constant(rng.normal(size=shape))  # noqa: E731
    projected = normal(batch, cell.input_projection_size)
    recurrent = normal(batch, cell.recurrent_projection_size)
    states = [normal(batch, s) for s in cell.state_size]
    d_output = normal(batch, cell.output_size)
    d_new_states = [normal(batch, s) for s in cell.state_size]
    variables = cell.transition_weights

    output, new_states, cache = cell.transition_with_cache(projected, recurrent, states)
    plain_output, plain_states = cell.transition(projected, recurrent, states)
    np.testing.assert_allclose(output, plain_output)
    for a, b in zip(new_states, plain_states):
        np.testing.assert_allclose(a, b)
    assert [c.shape for c in cache] == [(batch, s) for s in cell.transition_cache_sizes]

    expected = RecurrentCell.transition_gradient(
        cell, projected, recurrent, states, d_output, d_new_states, None, variables
    )
    args = (d_output, d_new_states, None, variables)
    recomputed = cell.transition_gradient(projected, recurrent, states, *args)
    from_cache = cell.transition_gradient(
        None if cache else projected, None if cache else recurrent, states, *args,
        cache=cache or None,
    )
    for got in (recomputed, from_cache):
        d_projected, d_recurrent, d_states, d_variables = got
        d_recurrent = d_projected if d_recurrent is None else d_recurrent
        np.testing.assert_allclose(d_projected, expected[0], atol=1e-12)
        np.testing.assert_allclose(d_recurrent, expected[1], atol=1e-12)
        for d, want in zip(d_states, expected[2]):
            np.testing.assert_allclose(0.0 if d is None else d, want, atol=1e-12)
        for d, want in zip(d_variables, expected[3]):
            np.testing.assert_allclose(d, want, atol=1e-12)


def test_step_jit_keeps_transition_weight_gradients_on_later_calls():
    """A fused step traced once still reports its peephole reads to the gradient."""
    layer = Recurrent(LSTMCell(UNITS, variant="peephole"), jit_compile="step")
    x, mask = sequence_batch()
    for call_mask in (None, mask):  # the second call reuses the traced step
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, mask=call_mask))
        grads = tape.gradient(loss, layer.trainable_weights)
        missing = [w.path for w, g in zip(layer.trainable_weights, grads) if g is None]
        assert not missing


@pytest.mark.parametrize("name", ["lstm_vanilla", "lstm_peephole", "gru_reset_after", "elman_tanh", "ran_tanh"])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_column_blocked_matmuls_match_numpy_and_one_block(name, jit_compile, monkeypatch):
    """The per-core column blocks of U·h and dz·Uᵀ (uneven ones too) change nothing."""
    from seqkeras.layers import recurrence

    cell = CELL_FACTORIES[name]()
    x, mask = sequence_batch()
    layer = Recurrent(cell, return_sequences=True, return_state=True, jit_compile=jit_compile)
    layer.build(x.shape)
    randomize(layer)
    out_w, state_w = _loss_weights(*x.shape[:2], cell)

    def run():
        with tf.GradientTape() as tape:
            outputs, *states = layer(x, mask=mask)
            loss = tf.reduce_sum(outputs * out_w) + tf.add_n(
                [tf.reduce_sum(s * w) for s, w in zip(states, state_w)]
            )
        return outputs, tape.gradient(loss, layer.trainable_weights)

    monkeypatch.setattr(recurrence, "_CORES", 1)
    single_outputs, single_grads = run()
    monkeypatch.setattr(recurrence, "_CORES", 3)
    monkeypatch.setattr(recurrence, "_MIN_BLOCK_WIDTH", 2)  # U·h: 3 blocks; dz·Uᵀ (5 wide): 3
    assert len(recurrence._column_blocks(cell.recurrent_kernel)) == 3
    blocked_outputs, blocked_grads = run()
    expected, _ = reference.run(cell, x, mask=mask)
    np.testing.assert_allclose(blocked_outputs, expected, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(blocked_outputs, single_outputs, atol=1e-6)
    for blocked, single in zip(blocked_grads, single_grads):
        np.testing.assert_allclose(blocked, single, atol=1e-5, rtol=1e-5)
