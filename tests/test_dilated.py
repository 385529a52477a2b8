"""`DilatedCausalConv` and the dilated-convolution LM and forecaster: a NumPy reference,
causality, the receptive field measured by gradients, queue-based steps vs the whole
sequence, state carried across windows, and tiny end-to-end runs with export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqkeras.forecasting.application import ForecastingApplication
from seqkeras.forecasting.spec import DataSpec, ModelSpec, Spec
from seqkeras.language_model import build_dilated_language_model, reset_states
from seqkeras.layers import DilatedCausalConv
from seqkeras.pipeline.spec import SpecError, with_overrides
from test_forecasting_server import hourly_file
from without_seqkeras import call_signatures

D, C = 3, 4


def _stack(layers=3, kernel_size=2, dilation_cycle=0, stateful=False, batch=None):
    keras.utils.set_random_seed(0)
    layer = DilatedCausalConv(C, layers, kernel_size=kernel_size, dilation_cycle=dilation_cycle, stateful=stateful,
                              kernel_initializer=keras.initializers.RandomNormal(stddev=0.7))
    layer.build((batch, None, D))
    for bias in [layer.input_bias, *layer.gate_biases, *layer.skip_biases, *layer.residual_biases]:
        bias.assign(np.random.default_rng(1).normal(0, 0.3, bias.shape))   # non-zero biases too
    for bias in layer.skip_biases:  # keep the output relu alive: a dead unit hides its inputs from gradients
        bias.assign(bias + 1.0)
    return layer


def _inputs(batch=2, steps=20, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, steps, D)).astype("float32")


def _numpy_stack(layer, x):
    """The module docstring's equations, one step and one tap at a time."""
    w = lambda v: np.asarray(v, np.float64)  # noqa: E731
    k, batch, steps = layer.kernel_size, x.shape[0], x.shape[1]
    h = x @ w(layer.input_kernel) + w(layer.input_bias)
    skips = np.zeros((batch, steps, C))
    for i, d in enumerate(layer.dilations):
        kernel = w(layer.gate_kernels[i]).reshape(k, C, 2 * C)
        z = np.zeros((batch, steps, C))
        for t in range(steps):
            pre = w(layer.gate_biases[i]) + sum(
                h[:, t - (k - 1 - j) * d] @ kernel[j] for j in range(k) if t - (k - 1 - j) * d >= 0)
            z[:, t] = np.tanh(pre[:, :C]) / (1 + np.exp(-pre[:, C:]))
        skips += z @ w(layer.skip_kernels[i]) + w(layer.skip_biases[i])
        if i < layer.layers - 1:
            h = h + z @ w(layer.residual_kernels[i]) + w(layer.residual_biases[i])
    return np.maximum(skips, 0.0)


@pytest.mark.parametrize("layers, kernel_size, cycle, field", [(4, 2, 0, 16), (3, 3, 0, 15), (4, 2, 2, 7)])
def test_receptive_field_property_and_numpy_reference(layers, kernel_size, cycle, field):
    layer = _stack(layers, kernel_size, cycle)
    assert layer.receptive_field == field == 1 + (kernel_size - 1) * sum(layer.dilations)
    x = _inputs()
    np.testing.assert_allclose(layer(x).numpy(), _numpy_stack(layer, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layers, kernel_size, cycle", [(4, 2, 0), (3, 3, 0), (4, 2, 2)])
def test_receptive_field_measured_by_gradients_and_causality(layers, kernel_size, cycle):
    layer = _stack(layers, kernel_size, cycle)
    x = tf.constant(_inputs(batch=1, steps=40, seed=2))
    t0 = 30
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)[:, t0]
    influence = np.abs(tape.gradient(y, x).numpy()[0]).sum(-1)             # [T]
    reached = np.nonzero(influence)[0]
    assert reached.max() == t0                                             # nothing after t0
    assert reached.min() == t0 - layer.receptive_field + 1                 # exactly R steps back
    assert len(reached) == layer.receptive_field
    # Perturbing step s changes no output before s.
    base = layer(x).numpy()
    for s in (0, 17, t0):
        changed = layer(x + tf.one_hot(s, 40)[None, :, None] * 5.0).numpy()
        np.testing.assert_array_equal(changed[:, :s], base[:, :s])
        assert np.abs(changed[:, s:] - base[:, s:]).max() > 0


def test_queue_steps_equal_the_whole_sequence():
    layer = _stack(4, 2)
    x = _inputs(steps=25)
    expected = layer(x).numpy()
    states, outputs = layer.initial_states(2), []
    for t in range(x.shape[1]):
        y, states = layer.step(tf.constant(x[:, t]), states)
        outputs.append(y.numpy())
    np.testing.assert_allclose(np.stack(outputs, 1), expected, rtol=1e-5, atol=1e-6)
    _, final = layer.run(tf.constant(x), layer.initial_states(2))
    for a, b in zip(final, states):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    assert [s.shape[-1] for s in states] == layer.state_sizes == [C * d for d in (1, 2, 4, 8)]


def test_stateful_windows_equal_one_long_window_and_reset():
    layer = _stack(3, 2, stateful=True, batch=2)
    x = _inputs(steps=21)
    whole = layer(x).numpy()
    layer.reset_state()
    parts = [layer(x[:, a:b]).numpy() for a, b in ((0, 5), (5, 6), (6, 21))]
    np.testing.assert_allclose(np.concatenate(parts, 1), whole, rtol=1e-5, atol=1e-6)
    layer.reset_state()
    np.testing.assert_allclose(layer(x[:, :5]).numpy(), whole[:, :5], rtol=1e-6)


def test_config_round_trip_save_and_invalid_arguments(tmp_path):
    layer = DilatedCausalConv(C, 3, kernel_size=3, dilation_cycle=2, return_sequences=False)
    again = DilatedCausalConv.from_config(layer.get_config())
    assert again.get_config() == layer.get_config() and again.dilations == [1, 2, 1]
    inputs = keras.Input((None, D))
    model = keras.Model(inputs, layer(inputs))
    x = _inputs(steps=9)
    assert model(x).shape == (2, C)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-6)
    for name, value in (("units", 0), ("layers", 0), ("kernel_size", 1), ("dilation_cycle", -1)):
        with pytest.raises(ValueError, match=f"`{name}`.*{name}={value}"):
            DilatedCausalConv(**{"units": 2, "layers": 2, name: value})
    with pytest.raises(ValueError, match="fixed batch size"):
        DilatedCausalConv(2, 2, stateful=True).build((None, None, D))


# -- the language model ----------------------------------------------------------------------
V, B = 13, 2


def test_dilated_lm_steps_match_the_stateful_call_and_carry_across_windows():
    keras.utils.set_random_seed(0)
    model = build_dilated_language_model(V, B, layers=3, units=6, embedding_dim=5, tie_embeddings=True)
    assert model.receptive_field == 8 and model.state_sizes == [6, 12, 24]
    x = np.random.default_rng(3).integers(0, V, (B, 14)).astype("int32")
    whole = model(x).numpy()
    reset_states(model)
    halves = np.concatenate([model(x[:, :6]).numpy(), model(x[:, 6:]).numpy()], 1)
    np.testing.assert_allclose(halves, whole, rtol=1e-5, atol=1e-6)
    states, steps = model.initial_states(B), []
    for t in range(x.shape[1]):
        logits, states = model.step(tf.constant(x[:, t]), states)
        steps.append(logits.numpy())
    np.testing.assert_allclose(np.stack(steps, 1), whole, rtol=1e-5, atol=1e-5)
    # A masked run (the server's right-padded prompts): masked steps keep the queues.
    mask = np.ones_like(x, bool)
    mask[0, 9:] = False
    outputs, final = model.run_sequence(x, mask, model.initial_states(B))
    alone, alone_final = model.run_sequence(x[:1, :9], None, model.initial_states(1))
    np.testing.assert_allclose(outputs[0, :9].numpy(), alone[0].numpy(), rtol=1e-5, atol=1e-6)
    assert not np.any(outputs[0, 9:].numpy())
    for a, b in zip(final, alone_final):
        np.testing.assert_allclose(a[0].numpy(), b[0].numpy(), rtol=1e-5, atol=1e-6)


# -- forecasting ---------------------------------------------------------------------------
def test_forecasting_dilated_cnn_trains_and_exports(tmp_path):
    keras.utils.set_random_seed(0)
    data_keys = hourly_file(tmp_path / "series.csv")
    spec = Spec(name="s", data=DataSpec(path=str(tmp_path / "series.csv"), shuffle_buffer=0, **data_keys),
                model=ModelSpec(kind="dilated_cnn", units=4, layers=3))
    spec.training.epochs, spec.training.steps_per_epoch = 1, 2
    spec.validate()
    app = ForecastingApplication()
    data = app.build_data(spec, None, None)
    model = app.build_model(spec, data)
    assert model.get_layer("encoder").receptive_field == 8
    history = model.fit(data.train, epochs=1, steps_per_epoch=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    version = app.exporter(spec, model, data).export(tmp_path / "saved_models", "pm")
    origin = data.bounds[0]
    rows = [data.series.raw_rows(origin - data.history, origin)]
    _, (served,) = call_signatures(version, [("serving_default", {"rows": rows})])
    expected = np.asarray(model(data.windows([origin])))[..., 1]
    np.testing.assert_allclose(served["forecast"], expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("key, value", [("model.head", "decoder"), ("model.bidirectional", True)])
def test_forecasting_dilated_cnn_spec_refuses_what_it_cannot_do(key, value):
    spec = Spec(data=DataSpec(path="x.csv", target="y", time_columns=["Date"], validation_start="2001-01-01",
                              test_start="2002-01-01"), model=ModelSpec(kind="dilated_cnn"))
    spec.validate()
    with pytest.raises(SpecError, match=key.replace(".", r"\.")):
        with_overrides(spec, {key: value}).validate()
