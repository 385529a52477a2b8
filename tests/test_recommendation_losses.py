"""Sampled next-item losses against NumPy references with the negatives fixed."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqkeras.recommendation.losses import (LOSSES, BPRMaxLoss, SampledSoftmaxLoss, make_loss,
                                            sampling_probabilities)

V = 12
POPULARITY = np.array([0, 0, 50, 30, 20, 10, 8, 5, 3, 2, 1, 0], dtype=np.float64)  # item 11 unseen


def _data(seed=0, batch=3, steps=5):
    rng = np.random.default_rng(seed)
    y_pred = rng.normal(size=(batch, steps, V)).astype(np.float32) * 2.0
    y_true = rng.integers(2, V, size=(batch, steps))
    y_true[0, 3:] = 0  # padding
    y_true[2, 0] = 1  # the unknown item is a real target
    y_true[1, 4] = 11  # an item outside the sampler's support
    return y_true, y_pred


def _q(alpha=0.75):
    weights = np.where((np.arange(V) >= 2) & (POPULARITY > 0), POPULARITY ** alpha, 0.0)
    return weights / weights.sum()


def _reference_sampled_softmax(y_true, y_pred, negatives, log_q, alpha=0.75):
    expected = len(negatives) * _q(alpha)
    log_expected = np.log(np.maximum(expected, expected[expected > 0].min()))
    out = np.zeros(y_true.shape)
    for index in np.ndindex(*y_true.shape):
        target = y_true[index]
        if target == 0:
            continue
        candidates = np.concatenate([[target], negatives])
        logits = y_pred[index][candidates].astype(np.float64)
        if log_q:
            logits = logits - log_expected[candidates]
        keep = np.concatenate([[True], negatives != target])
        logits = logits[keep]
        out[index] = -logits[0] + np.log(np.sum(np.exp(logits)))
    return out


def _reference_bpr_max(y_true, y_pred, negatives, regularization):
    out = np.zeros(y_true.shape)
    for index in np.ndindex(*y_true.shape):
        target = y_true[index]
        kept = negatives[negatives != target]
        if target == 0 or kept.size == 0:
            continue
        r_i = float(y_pred[index][target])
        r_j = y_pred[index][kept].astype(np.float64)
        s = np.exp(r_j - r_j.max())
        s /= s.sum()
        sigmoid = 1.0 / (1.0 + np.exp(-(r_i - r_j)))
        out[index] = -np.log(np.sum(s * sigmoid)) + regularization * np.sum(s * r_j ** 2)
    return out


def _with_fixed_negatives(loss, negatives):
    loss.sample_negatives = lambda n=None: tf.constant(negatives, tf.int32)
    return loss


NEGATIVES = np.array([2, 3, 3, 5, 7, 9, 10, 4, 6, 2])  # with repeats, as drawn with replacement


@pytest.mark.parametrize("log_q", [True, False])
def test_sampled_softmax_matches_numpy(log_q):
    y_true, y_pred = _data()
    loss = SampledSoftmaxLoss(POPULARITY, negatives=len(NEGATIVES), log_q=log_q, seed=1)
    losses, valid = loss.loss_given_negatives(y_true, y_pred, NEGATIVES)
    expected = _reference_sampled_softmax(y_true, y_pred, NEGATIVES, log_q)
    np.testing.assert_allclose(losses.numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(valid.numpy(), y_true != 0)
    # The reduction averages over the non-padding positions only.
    mean = float(_with_fixed_negatives(loss, NEGATIVES)(y_true, y_pred))
    np.testing.assert_allclose(mean, expected.sum() / np.sum(y_true != 0), rtol=1e-5)


def test_accidental_hits_are_masked():
    loss = SampledSoftmaxLoss(POPULARITY, negatives=3, log_q=False)
    y_pred = np.zeros((1, 2, V), np.float32)
    y_pred[0, :, 4] = 1.0
    y_true = np.array([[4, 4]])
    # Negatives [4, 4, 5]: only item 5 competes → log(1 + e^(0 − 1)).
    losses, _ = loss.loss_given_negatives(y_true, y_pred, np.array([4, 4, 5]))
    np.testing.assert_allclose(losses.numpy(), np.log1p(np.exp(-1.0)), rtol=1e-6)
    # Every negative is the target: nothing competes, the loss is 0 (and so is BPR-max's).
    for each in (loss, BPRMaxLoss(POPULARITY, negatives=3)):
        losses, _ = each.loss_given_negatives(y_true, y_pred, np.array([4, 4, 4]))
        np.testing.assert_allclose(losses.numpy(), 0.0, atol=1e-6)


@pytest.mark.parametrize("regularization", [0.0, 1.0, 0.3])
def test_bpr_max_matches_numpy(regularization):
    y_true, y_pred = _data(seed=3)
    loss = BPRMaxLoss(POPULARITY, negatives=len(NEGATIVES), regularization=regularization)
    losses, _ = loss.loss_given_negatives(y_true, y_pred, NEGATIVES)
    expected = _reference_bpr_max(y_true, y_pred, NEGATIVES, regularization)
    np.testing.assert_allclose(losses.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_bpr_max_is_stable_for_large_scores():
    y_true = np.array([[2, 3]])
    y_pred = np.zeros((1, 2, V), np.float32)
    y_pred[0, 0, 2], y_pred[0, 0, 5] = -200.0, 200.0  # σ(−400) underflows if formed directly
    losses, _ = BPRMaxLoss(POPULARITY, regularization=0.0).loss_given_negatives(y_true, y_pred, np.array([5, 6]))
    assert np.all(np.isfinite(losses.numpy()))
    # Σ s_j σ(r_i − r_j) ≈ σ(−400) + e^−200 σ(−200) ≈ 2 e^−400.
    np.testing.assert_allclose(losses.numpy()[0, 0], 400.0 - np.log(2.0), rtol=1e-5)


@pytest.mark.parametrize("cls", [SampledSoftmaxLoss, BPRMaxLoss])
def test_padding_is_ignored(cls):
    y_true, y_pred = _data(seed=5)
    loss = _with_fixed_negatives(cls(POPULARITY, negatives=len(NEGATIVES)), NEGATIVES)
    before = float(loss(y_true, y_pred))
    changed = y_pred.copy()
    changed[y_true == 0] = np.nan  # whatever the model emits at padding
    assert float(loss(y_true, changed)) == pytest.approx(before, rel=1e-6)


@pytest.mark.parametrize("cls", [SampledSoftmaxLoss, BPRMaxLoss])
def test_all_padding_gives_zero_with_finite_gradients(cls):
    loss = cls(POPULARITY, negatives=4, seed=0)
    y_pred = tf.Variable(tf.random.normal((2, 3, V)))
    with tf.GradientTape() as tape:
        value = loss(tf.zeros((2, 3), tf.int32), y_pred)
    gradient = tape.gradient(value, y_pred)
    assert float(value) == 0.0
    assert np.all(np.isfinite(gradient.numpy()))
    # A normal batch: finite gradients, zero at the padding positions.
    y_true, logits = _data()
    y_pred = tf.Variable(logits)
    with tf.GradientTape() as tape:
        value = loss(y_true, y_pred)
    gradient = tape.gradient(value, y_pred).numpy()
    assert np.isfinite(float(value)) and np.all(np.isfinite(gradient))
    assert np.all(gradient[y_true == 0] == 0) and np.any(gradient != 0)


def test_bfloat16_predictions():
    y_true, y_pred = _data()
    for loss in (SampledSoftmaxLoss(POPULARITY, seed=0), BPRMaxLoss(POPULARITY, seed=0)):
        value = loss(y_true, tf.cast(y_pred, tf.bfloat16))
        assert value.dtype == tf.float32 and np.isfinite(float(value))


def test_sampler_draws_catalogue_items_by_popularity():
    loss = SampledSoftmaxLoss(POPULARITY, negatives=8, alpha=0.75, seed=7)
    draws = loss.sample_negatives(40_000).numpy()
    assert draws.dtype == np.int32 and draws.shape == (40_000,)
    assert draws.min() >= 2 and not np.any(draws == 11)  # never padding, unknown, or unseen items
    observed = np.bincount(draws, minlength=V)[2:11]
    expected = _q(0.75)[2:11] * draws.size
    chi_square = np.sum((observed - expected) ** 2 / expected)
    assert chi_square < 40.0  # 8 degrees of freedom: p < 1e-5
    # The default count is `negatives`; inside a compiled step each call draws afresh.
    assert loss.sample_negatives().shape == (8,)
    draw = tf.function(lambda: loss.sample_negatives(64))
    assert not np.array_equal(draw().numpy(), draw().numpy())
    np.testing.assert_allclose(sampling_probabilities(POPULARITY, 0.75), _q(0.75))


def _toy_next_item(batch=64, steps=6):
    """Sequences that walk a fixed permutation of the catalogue: the next item is a function of the current."""
    rng = np.random.default_rng(0)
    successor = np.arange(V)
    successor[2:] = 2 + rng.permutation(V - 2)
    items = np.zeros((batch, steps + 1), np.int64)
    items[:, 0] = rng.integers(2, V, size=batch)
    for t in range(steps):
        items[:, t + 1] = successor[items[:, t]]
    items[: batch // 4, 4:] = 0  # short sequences, right-padded
    return items[:, :-1], items[:, 1:]


@pytest.mark.parametrize("kind", ["sampled_softmax", "bpr_max"])
def test_training_lowers_the_full_softmax_loss(kind):
    x, y = _toy_next_item()
    popularity = np.bincount(y[y > 0], minlength=V).astype(float)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              keras.layers.Embedding(V, 16, mask_zero=True),
                              keras.layers.Dense(V)])
    model.compile(optimizer=keras.optimizers.Adam(0.05),
                  loss=make_loss(kind, popularity, negatives=6, regularization=0.1, seed=0), jit_compile=True)
    full_softmax = make_loss("softmax")
    before = float(full_softmax(y, model(x)))
    model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    after = float(full_softmax(y, model(x)))
    assert after < 0.7 * before, (before, after)


@pytest.mark.parametrize("cls, extra", [(SampledSoftmaxLoss, {"log_q": False}), (BPRMaxLoss, {"regularization": 0.5})])
def test_config_round_trip(cls, extra):
    loss = cls(POPULARITY, negatives=7, alpha=0.5, seed=3, **extra)
    config = loss.get_config()
    assert config["popularity"] == POPULARITY.tolist() and isinstance(config["popularity"], list)
    clone = cls.from_config(config)
    assert clone.get_config() == config
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is cls and restored.get_config() == config
    y_true, y_pred = _data()
    np.testing.assert_allclose(clone.loss_given_negatives(y_true, y_pred, NEGATIVES)[0].numpy(),
                               loss.loss_given_negatives(y_true, y_pred, NEGATIVES)[0].numpy())


def test_make_loss():
    assert LOSSES == ("softmax", "sampled_softmax", "bpr_max")
    softmax = make_loss("softmax")
    assert isinstance(softmax, keras.losses.SparseCategoricalCrossentropy)
    assert softmax.get_config()["ignore_class"] == 0 and softmax.get_config()["from_logits"]
    sampled = make_loss("sampled_softmax", POPULARITY, negatives=5, alpha=0.5, seed=1)
    assert isinstance(sampled, SampledSoftmaxLoss) and (sampled.negatives, sampled.alpha) == (5, 0.5)
    bpr = make_loss("bpr_max", POPULARITY, regularization=0.25)
    assert isinstance(bpr, BPRMaxLoss) and bpr.regularization == 0.25
    with pytest.raises(ValueError, match="kind"):
        make_loss("hinge")
    with pytest.raises(ValueError, match="popularity"):
        make_loss("bpr_max")


@pytest.mark.parametrize("kwargs, match", [
    ({"popularity": [0, 0, 0, 0]}, "no positive count"),
    ({"popularity": [0, 0, -1, 3]}, "popularity"),
    ({"popularity": [1, 2]}, "popularity"),
    ({"negatives": 0}, "negatives"),
    ({"alpha": -1.0}, "alpha"),
])
def test_invalid_arguments(kwargs, match):
    arguments = {"popularity": POPULARITY, **kwargs}
    with pytest.raises(ValueError, match=match):
        SampledSoftmaxLoss(**arguments)
    with pytest.raises(ValueError, match="regularization"):
        BPRMaxLoss(POPULARITY, regularization=-1.0)


def test_vocabulary_mismatch_is_an_error():
    with pytest.raises(ValueError, match="V=12"):
        SampledSoftmaxLoss(POPULARITY)(np.array([[2]]), np.zeros((1, 1, V + 1), np.float32))


def test_next_item_cross_entropy_metric_is_the_masked_full_softmax_mean():
    from seqkeras.recommendation.losses import NextItemCrossEntropy

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 6)).astype(np.float32)
    targets = np.array([[2, 3, 0], [5, 0, 0]])
    metric = NextItemCrossEntropy()
    metric.update_state(targets[:1], logits[:1])
    metric.update_state(targets[1:], logits[1:])
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.mean([log_softmax[0, 0, 2], log_softmax[0, 1, 3], log_softmax[1, 0, 5]])
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-5)
