"""The fixed-window feed-forward LM (Bengio et al. 2003): a NumPy reference, the state
carried across windows, the stateless step interface, masks, spec checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqkeras.language_model import ContextWindow, FeedForwardLanguageModel, Spec, build_nnlm, reset_states
from seqkeras.pipeline.spec import SpecError, with_overrides

V, B = 17, 3


def _ids(steps, seed=0):
    return np.random.default_rng(seed).integers(0, V, (B, steps)).astype("int32")


def _model(context=3, layers=1, units=5, embedding_dim=4, tied=False):
    keras.utils.set_random_seed(0)
    model = build_nnlm(V, B, context=context, layers=layers, units=units, embedding_dim=embedding_dim,
                       tie_embeddings=tied)
    model(_ids(1))                                     # build
    reset_states(model)
    for weight in model.trainable_weights:             # non-zero biases too
        weight.assign(np.random.default_rng(len(weight.path)).normal(0, 0.5, weight.shape))
    return model


def _numpy_logits(model, x, context):
    """concat(e(x_{t−n+1}), …, e(x_t)) → tanh hidden layers → (tied) logits; <pad> = 0 before the start."""
    w = lambda layer, name: np.asarray(  # noqa: E731
        next(v for v in model.get_layer(layer).weights if v.path.endswith(name)), np.float64)
    table = w("embedding", "embeddings")
    padded = np.concatenate([np.zeros((x.shape[0], context - 1), int), x], 1)
    out = np.zeros(x.shape + (V,))
    depth = len([layer for layer in model.layers if layer.name.startswith("hidden_")])
    for t in range(x.shape[1]):
        h = np.concatenate([table[padded[:, t + j]] for j in range(context)], -1)
        for i in range(depth):
            h = np.tanh(h @ w(f"hidden_{i}", "kernel") + w(f"hidden_{i}", "bias"))
        logits = model.get_layer("logits")
        if logits.tied:
            if logits.projection is not None:
                h = h @ w("logits", "projection")
            out[:, t] = h @ table.T + w("logits", "bias")
        else:
            out[:, t] = h @ w("logits", "kernel") + w("logits", "bias")
    return out


@pytest.mark.parametrize("context, layers, units, tied", [(1, 1, 5, False), (2, 1, 5, False), (4, 2, 5, True),
                                                          (3, 1, 4, True)])
def test_output_equals_numpy_window_mlp(context, layers, units, tied):
    model = _model(context, layers, units, 4, tied)
    assert isinstance(model, FeedForwardLanguageModel) and model.context_size == context
    assert model.state_sizes == [context - 1]
    x = _ids(9)
    np.testing.assert_allclose(model(x).numpy(), _numpy_logits(model, x, context), rtol=1e-4, atol=1e-4)


def test_state_carried_across_windows_equals_one_long_window():
    model = _model(context=4)
    x = _ids(12, seed=1)
    whole = model(x).numpy()
    reset_states(model)
    parts = [model(x[:, a:b]).numpy() for a, b in ((0, 2), (2, 7), (7, 12))]   # windows shorter than n too
    np.testing.assert_allclose(np.concatenate(parts, 1), whole, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.get_layer("context").previous_ids.numpy(), x[:, -3:])
    reset_states(model)
    np.testing.assert_allclose(model(x[:, :2]).numpy(), whole[:, :2], rtol=1e-6)


def test_stateless_step_and_run_sequence_match_the_stateful_call(tmp_path):
    model = _model(context=3, tied=True)
    x = _ids(8, seed=2)
    expected = model(x).numpy()
    states, steps = model.initial_states(B), []
    for t in range(x.shape[1]):
        logits, states = model.step(tf.constant(x[:, t]), states)
        steps.append(logits.numpy())
    np.testing.assert_allclose(np.stack(steps, 1), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(states[0].numpy(), x[:, -2:])          # the state is the last n − 1 ids
    outputs, final = model.run_sequence(x, None, model.initial_states(B))
    np.testing.assert_allclose(model.output_logits(outputs).numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(final[0].numpy(), states[0].numpy())
    # A mask (the server's right-padded prompts; any mask): masked steps keep the state.
    mask = np.ones_like(x, bool)
    mask[0, 5:] = False
    mask[1, [1, 4]] = False
    outputs, final = model.run_sequence(x, mask, model.initial_states(B))
    kept = x[1, mask[1]]
    alone, alone_final = model.run_sequence(kept[None], None, model.initial_states(1))
    np.testing.assert_allclose(outputs[1].numpy()[mask[1]], alone[0].numpy(), rtol=1e-5, atol=1e-6)
    assert not np.any(outputs[1].numpy()[~mask[1]])
    np.testing.assert_array_equal(final[0].numpy()[:2], [x[0, 3:5], kept[-2:]])
    # The weights file holds the model's own weights only (the stateless parts add none).
    model.save_weights(tmp_path / "nnlm.weights.h5")
    again = _model(context=3, tied=True)
    again.load_weights(tmp_path / "nnlm.weights.h5")
    reset_states(again)
    np.testing.assert_allclose(again(x).numpy(), expected, rtol=1e-6)


def test_context_window_layer():
    layer = ContextWindow(3)
    np.testing.assert_array_equal(layer(np.array([[5, 6, 7, 8]])).numpy(),
                                  [[[0, 0, 5], [0, 5, 6], [5, 6, 7], [6, 7, 8]]])
    assert ContextWindow.from_config(layer.get_config()).size == 3
    with pytest.raises(ValueError, match="size=0"):
        ContextWindow(0)


def test_spec_kinds_and_their_options():
    assert Spec().model.kind == "rnn"                      # specs without `kind` keep the recurrent model
    with_overrides(Spec(), {"model.kind": "nnlm", "model.context": 8}).validate()
    for key, value, message in (("model.kind", "cnn", r"model\.kind"), ("model.context", 0, r"model\.context"),
                                ("model.kernel_size", 1, r"model\.kernel_size")):
        with pytest.raises(SpecError, match=message):
            with_overrides(Spec(), {"model.kind": "nnlm", key: value}).validate()
    with pytest.raises(SpecError, match=r"model\.recurrent_dropout.*'rnn' only"):
        with_overrides(Spec(), {"model.kind": "dilated_cnn", "model.recurrent_dropout": 0.2}).validate()
