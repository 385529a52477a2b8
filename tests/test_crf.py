"""Tests for the linear-chain CRF layer against brute-force enumeration."""

import itertools
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqkeras.layers.crf import CRF, crf_loss

NUM_TAGS = 3
# Two sequences of different lengths (4 and 2) plus an empty one.
MASK = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=bool)


def _random_crf(use_boundary, seed=0, dtype="float64"):
    """A built CRF with random (non-zero) parameters, and emissions for MASK."""
    rng = np.random.default_rng(seed)
    crf = CRF(NUM_TAGS, use_boundary_transitions=use_boundary, dtype=dtype)
    emissions = rng.normal(size=MASK.shape + (NUM_TAGS,))
    crf.build(emissions.shape)
    for weight in crf.weights:
        weight.assign(rng.normal(size=weight.shape))
    return crf, emissions


def _params(crf):
    trans = crf.transitions.numpy()
    if crf.use_boundary_transitions:
        return trans, crf.start_transitions.numpy(), crf.end_transitions.numpy()
    return trans, np.zeros(NUM_TAGS), np.zeros(NUM_TAGS)


def _brute_force_scores(crf, emissions, length):
    """{path: score(path)} for every tag path of the given length."""
    trans, start, end = _params(crf)
    scores = {}
    for path in itertools.product(range(NUM_TAGS), repeat=length):
        score = start[path[0]] + end[path[-1]]
        score += sum(emissions[t, path[t]] for t in range(length))
        score += sum(trans[path[t - 1], path[t]] for t in range(1, length))
        scores[path] = score
    return scores


@pytest.mark.parametrize("use_boundary", [True, False])
def test_log_partition_and_likelihood_match_enumeration(use_boundary):
    crf, emissions = _random_crf(use_boundary)
    rng = np.random.default_rng(1)
    tags = rng.integers(0, NUM_TAGS, size=MASK.shape)
    log_z = crf.log_partition(emissions, MASK).numpy()
    log_lik = crf.log_likelihood(emissions, tags, MASK).numpy()
    for b, length in enumerate(MASK.sum(axis=1)):
        if length == 0:
            assert log_z[b] == 0.0 and log_lik[b] == 0.0
            continue
        scores = _brute_force_scores(crf, emissions[b], length)
        expected_log_z = np.log(np.sum(np.exp(list(scores.values()))))
        np.testing.assert_allclose(log_z[b], expected_log_z, rtol=1e-10)
        gold = tuple(tags[b, :length])
        np.testing.assert_allclose(log_lik[b], scores[gold] - expected_log_z, rtol=1e-10)
    nll = crf.negative_log_likelihood(emissions, tags, MASK).numpy()
    np.testing.assert_allclose(nll, -log_lik)


@pytest.mark.parametrize("use_boundary", [True, False])
def test_viterbi_matches_enumeration(use_boundary):
    crf, emissions = _random_crf(use_boundary, seed=2)
    tags, best = crf.decode(emissions, MASK)
    tags, best = tags.numpy(), best.numpy()
    assert tags.dtype == np.int32 and tags.shape == MASK.shape
    for b, length in enumerate(MASK.sum(axis=1)):
        assert np.all(tags[b, length:] == 0)
        if length == 0:
            assert best[b] == 0.0
            continue
        scores = _brute_force_scores(crf, emissions[b], length)
        best_path = max(scores, key=scores.get)
        assert tuple(tags[b, :length]) == best_path
        np.testing.assert_allclose(best[b], scores[best_path], rtol=1e-10)
    # Calling the layer decodes, too.
    np.testing.assert_array_equal(crf(emissions, mask=MASK).numpy(), tags)


def test_length_one_and_no_mask():
    crf = CRF(NUM_TAGS)
    emissions = np.random.default_rng(3).normal(size=(2, 1, NUM_TAGS)).astype("float32")
    tags = crf(emissions).numpy()
    np.testing.assert_array_equal(tags[:, 0], emissions[:, 0].argmax(-1))  # zero start/end
    log_lik = crf.log_likelihood(emissions, tags).numpy()
    expected = emissions[:, 0].max(-1) - np.log(np.exp(emissions[:, 0]).sum(-1))
    np.testing.assert_allclose(log_lik, expected, rtol=1e-5)


def test_empty_sequence_has_finite_gradients():
    crf, emissions = _random_crf(True, dtype="float32")
    emissions = tf.constant(emissions, tf.float32)
    empty = np.zeros_like(MASK)
    with tf.GradientTape() as tape:
        tape.watch(emissions)
        nll = crf.negative_log_likelihood(emissions, np.zeros(MASK.shape, int), empty)
    grads = tape.gradient(nll, [emissions] + crf.trainable_weights)
    np.testing.assert_array_equal(nll.numpy(), 0.0)
    for grad in grads:
        assert np.all(np.isfinite(tf.convert_to_tensor(grad).numpy()))


def test_gradients_match_finite_differences():
    crf, emissions = _random_crf(True, seed=4)
    tags = np.array([[0, 2, 1, 1], [2, 2, 0, 0], [0, 0, 0, 0]])
    emissions = tf.Variable(emissions)

    def loss():
        return tf.reduce_sum(crf.negative_log_likelihood(emissions, tags, MASK))

    variables = [emissions, crf.transitions, crf.start_transitions, crf.end_transitions]
    with tf.GradientTape() as tape:
        value = loss()
    grads = tape.gradient(value, variables)
    eps = 1e-6
    for variable, grad in zip(variables, grads):
        base = variable.numpy()
        numeric = np.zeros_like(base)
        for index in np.ndindex(base.shape):
            shifted = base.copy()
            shifted[index] += eps
            variable.assign(shifted)
            plus = loss().numpy()
            shifted[index] -= 2 * eps
            variable.assign(shifted)
            minus = loss().numpy()
            numeric[index] = (plus - minus) / (2 * eps)
        variable.assign(base)
        np.testing.assert_allclose(grad.numpy(), numeric, atol=1e-7, rtol=1e-6)


def test_get_config_round_trip():
    crf = CRF(
        5,
        use_boundary_transitions=False,
        transitions_initializer="zeros",
        transitions_regularizer=keras.regularizers.L2(0.01),
        name="my_crf",
    )
    config = crf.get_config()
    assert config["num_tags"] == 5
    assert config["use_boundary_transitions"] is False
    clone = CRF.from_config(config)
    assert clone.get_config() == config
    clone.build((None, None, 5))
    assert [w.path.split("/")[-1] for w in clone.weights] == ["transitions"]
    assert len(clone.losses) == 1  # the regularizer is applied


def test_keras_file_save_and_load(tmp_path):
    inputs = keras.Input((None, NUM_TAGS))
    outputs = CRF(NUM_TAGS, transitions_initializer="random_normal")(inputs)
    model = keras.Model(inputs, outputs)
    path = tmp_path / "crf.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    emissions = np.random.default_rng(5).normal(size=(2, 4, NUM_TAGS)).astype("float32")
    np.testing.assert_array_equal(loaded(emissions).numpy(), model(emissions).numpy())
    for original, restored in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(original.numpy(), restored.numpy())


def _tagging_data(num_samples=48, max_len=6, vocab=12, seed=0):
    """Synthetic task: tag = token id mod NUM_TAGS; 0 is padding."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(num_samples, max_len))
    lengths = rng.integers(1, max_len + 1, size=num_samples)
    x[np.arange(max_len)[None, :] >= lengths[:, None]] = 0
    y = np.where(x > 0, x % NUM_TAGS, 0)
    return x.astype("int32"), y.astype("int32")


def test_fit_with_crf_loss_then_export_without_seqkeras(tmp_path):
    keras.utils.set_random_seed(0)
    vocab = 12
    x, y = _tagging_data(vocab=vocab)
    valid = x > 0

    tokens = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Embedding(vocab, 8, mask_zero=True)(tokens)
    emissions = keras.layers.Dense(NUM_TAGS)(hidden)
    crf = CRF(NUM_TAGS)
    tags = crf(emissions)
    model = keras.Model(tokens, {"emissions": emissions, "tags": tags})
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss={"emissions": crf_loss(crf)})
    assert any(v is crf.transitions for v in model.trainable_variables)

    # The loss is the mean per-sequence NLL over the masked (unpadded) steps.
    initial = model.evaluate(x, {"emissions": y}, batch_size=len(x), verbose=0)
    expected = crf.negative_log_likelihood(model(x)["emissions"], y, valid)
    np.testing.assert_allclose(initial, np.mean(expected), rtol=1e-5)

    transitions_before = crf.transitions.numpy().copy()
    history = model.fit(x, {"emissions": y}, epochs=6, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert not np.allclose(crf.transitions.numpy(), transitions_before)

    tagger = keras.Model(tokens, tags)  # same layers, tags only
    predicted = tagger.predict(x, verbose=0)
    accuracy = np.mean(predicted[valid] == y[valid])
    assert accuracy > 0.6  # chance is 1/3
    assert np.all(predicted[~valid] == 0)

    export_dir = tmp_path / "tagger"
    tagger.export(str(export_dir), verbose=False)
    np.save(tmp_path / "x.npy", x)
    script = (
        "import sys\n"
        "sys.modules['seqkeras'] = None\n"
        "try:\n"
        "    import seqkeras\n"
        "    raise SystemExit('seqkeras should not be importable')\n"
        "except ImportError:\n"
        "    pass\n"
        "import numpy as np, tensorflow as tf\n"
        f"loaded = tf.saved_model.load({str(export_dir)!r})\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        "out = loaded.serve(tf.constant(x))\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, out.numpy())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), predicted)


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, None])
def test_invalid_num_tags(bad):
    with pytest.raises(ValueError, match=rf"num_tags.*received {bad!r}"):
        CRF(bad)


def test_invalid_use_boundary_transitions():
    with pytest.raises(ValueError, match="use_boundary_transitions.*received 'yes'"):
        CRF(3, use_boundary_transitions="yes")


def test_emissions_last_dim_mismatch():
    crf = CRF(3)
    with pytest.raises(ValueError, match=r"last dimension 4.*num_tags=3"):
        crf(np.zeros((2, 5, 4), "float32"))
    crf(np.zeros((2, 5, 3), "float32"))  # builds
    with pytest.raises(ValueError, match=r"last dimension 4.*num_tags=3"):
        crf.log_likelihood(np.zeros((2, 5, 4), "float32"), np.zeros((2, 5), "int32"))


def test_emissions_wrong_rank():
    with pytest.raises(ValueError, match="rank 3"):
        CRF(3).decode(np.zeros((5, 3), "float32"))


def test_crf_loss_rejects_non_crf():
    with pytest.raises(ValueError, match="crf"):
        crf_loss(keras.layers.Dense(3))
