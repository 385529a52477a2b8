"""The frame-sequence models: masking, in-model normalization, both heads, the baselines."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from seqkeras.sequences.baselines import DenseClassifier, pooled_features
from seqkeras.sequences.data import padded
from seqkeras.sequences.model import FrameInputs, build_sequence_model, compile_sequence_model, predict_frames

D, C = 3, 4
MEAN, STD = np.array([1.0, -2.0, 0.5]), np.array([2.0, 0.5, 1.0])


def sequences(lengths=(5, 2, 7), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, D)).astype(np.float32) for n in lengths]


def model_for(task="classify", **kwargs):
    keras.utils.set_random_seed(0)
    options = dict(units=5, projection=6, dropout=0.0, jit_compile=False)
    options.update(kwargs)
    return build_sequence_model(D, C, MEAN, STD, task=task, **options)


def call(model, frames, lengths):
    out = model({"frames": np.asarray(frames, np.float32), "length": np.asarray(lengths, np.int32)}, training=False)
    return {k: np.asarray(v) for k, v in out.items()} if isinstance(out, dict) else np.asarray(out)


@pytest.mark.parametrize("kwargs", [
    dict(pooling="final"), dict(pooling="mean"), dict(pooling="max"),
    dict(pooling="final", bidirectional=False, cell="lstm", layers=2), dict(projection=0, cell="ran"),
])
def test_padded_frames_do_not_change_the_classifier(kwargs):
    model = model_for(**kwargs)
    rows = sequences()
    x, lengths = padded(rows, width=10)
    x[0, 5:] = np.nan                                    # anything may sit past the length
    x[1, 2:] = 1e6
    batched = call(model, x, lengths)
    for row, frames in enumerate(rows):
        alone = call(model, frames[None], [len(frames)])
        np.testing.assert_allclose(batched[row], alone[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batched.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("output", ["softmax", "crf"])
def test_padded_frames_do_not_change_the_frame_labeller(output):
    model = model_for("label_frames", output=output)
    rows = sequences()
    x, lengths = padded(rows, width=9)
    x[2, 7:] = np.nan
    batched = call(model, x, lengths)
    assert batched["emissions"].shape == (3, 9, C) and batched["tags"].shape == (3, 9)
    for row, frames in enumerate(rows):
        alone = call(model, frames[None], [len(frames)])
        n = len(frames)
        np.testing.assert_allclose(batched["emissions"][row, :n], alone["emissions"][0], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(batched["tags"][row, :n], alone["tags"][0])
        assert not batched["tags"][row, n:].any()


def test_normalization_uses_the_training_statistics_and_reads_missing_values_as_the_mean():
    layer = FrameInputs(MEAN, STD)
    frames = np.array([[[3.0, -1.0, np.nan], [np.inf, -2.0, 0.5], [9.0, 9.0, 9.0]]], np.float32)
    z = np.asarray(layer([frames, np.array([2], np.int32)]))
    np.testing.assert_allclose(z[0, 0], [1.0, 2.0, 0.0])
    np.testing.assert_allclose(z[0, 1], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(z[0, 2], [0.0, 0.0, 0.0])                # past the length
    assert FrameInputs.from_config(layer.get_config()).mean == layer.mean
    model = model_for()
    nan_frames = sequences((4,))[0]
    with_mean = nan_frames.copy()
    nan_frames[1, 2], with_mean[1, 2] = np.nan, MEAN[2]
    np.testing.assert_allclose(call(model, nan_frames[None], [4]), call(model, with_mean[None], [4]), rtol=1e-6)


@pytest.mark.parametrize("task", ["classify", "label_frames"])
def test_the_compiled_model_trains_and_predicts_variable_lengths(task):
    rng = np.random.default_rng(0)
    rows = sequences(lengths=[int(n) for n in rng.integers(2, 8, 24)])
    labels = np.arange(24) % C
    for frames, label in zip(rows, labels):
        frames += 2 * label                               # separable by level
    x, lengths = padded(rows)
    model = compile_sequence_model(model_for(task, output="crf"), keras.optimizers.Adam(0.05))
    targets = labels if task == "classify" else np.where(np.arange(x.shape[1]) < lengths[:, None],
                                                         labels[:, None], 0)
    model.fit({"frames": x, "length": lengths}, targets, epochs=15, batch_size=8, verbose=0)
    out = predict_frames(model, rows)
    if task == "classify":
        assert out.shape == (24, C) and np.mean(out.argmax(-1) == labels) > 0.9
    else:
        tags, probabilities = out
        assert [len(t) for t in tags] == [len(r) for r in rows] and probabilities[0].shape == (len(rows[0]), C)
        assert np.mean(np.concatenate(tags) == np.concatenate([np.full(len(r), c) for r, c in zip(rows, labels)])) > 0.9


def test_the_model_round_trips_through_keras_saving(tmp_path):
    model = model_for("label_frames", output="crf")
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path, compile=False)
    x, lengths = padded(sequences())
    np.testing.assert_allclose(call(again, x, lengths)["emissions"], call(model, x, lengths)["emissions"], rtol=1e-6)


def test_baseline_classifier_learns_pooled_features():
    rng = np.random.default_rng(0)
    rows = [rng.normal(c, 1.0, size=(int(rng.integers(3, 9)), D)) for c in np.arange(60) % 3]
    labels = np.arange(60) % 3
    features = pooled_features(rows)
    assert features.shape == (60, 2 * D)
    np.testing.assert_allclose(features[0], np.concatenate([rows[0].mean(0), rows[0].std(0)]), rtol=1e-5)
    classifier = DenseClassifier(3, steps=200, seed=0).fit(features, labels)
    assert np.mean(classifier.predict_proba(features).argmax(-1) == labels) > 0.9
    again = DenseClassifier(3, steps=200, seed=0).fit(features, labels)
    np.testing.assert_allclose(again.predict_proba(features), classifier.predict_proba(features), rtol=1e-5)


def test_docstring_examples():
    import doctest

    from seqkeras.sequences import model as module

    result = doctest.testmod(module, extraglobs={"np": np}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
