"""The sequences export: served without seqkeras as the model computes, and every bad request
answered by a defined output or a clear error."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqkeras.sequences.data import padded
from seqkeras.sequences.model import build_sequence_model
from seqkeras.sequences.server import CLASSIFY_SIGNATURE, SequenceServer
from without_seqkeras import call_signatures

D, CLASSES = 3, ["a", "b", "c"]
MEAN, STD = np.array([0.5, 0.0, -1.0]), np.array([1.0, 2.0, 0.5])


def rows(lengths=(4, 2, 6), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, D)).astype(np.float32) for n in lengths]


@pytest.fixture(scope="module", params=["classify", "label_frames"])
def exported(request, tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = build_sequence_model(D, len(CLASSES), MEAN, STD, task=request.param, units=4, projection=4,
                                 output="crf", jit_compile=False)
    server = SequenceServer(model, CLASSES, rows()[:2])
    version = server.export(tmp_path_factory.mktemp(request.param) / "saved_models", "vowels")
    return request.param, model, version, tf.saved_model.load(str(version)).signatures["serving_default"]


def test_export_serves_without_seqkeras_as_the_model_computes(exported):
    task, model, version, _ = exported
    x, lengths = padded(rows(), width=7)
    names, (served,) = call_signatures(version, [("serving_default", {"frames": x.tolist(),
                                                                      "length": lengths.tolist()})])
    assert {"serving_default", CLASSIFY_SIGNATURE} <= set(names)
    out = model({"frames": x, "length": lengths}, training=False)
    assert served["probabilities"].shape == (3, 3)
    np.testing.assert_allclose(served["probabilities"].sum(-1), 1.0, rtol=1e-5)
    assert served["classes"].tolist() == [CLASSES] * 3
    if task == "classify":
        np.testing.assert_allclose(served["probabilities"], np.asarray(out), rtol=1e-5, atol=1e-6)
        assert served["label"].tolist() == [CLASSES[i] for i in np.argmax(out, -1)]
        return
    tags = np.asarray(out["tags"])
    assert served["labels"].shape == (3, 7)
    for row, n in enumerate(lengths):
        assert served["labels"][row, :n].tolist() == [CLASSES[t] for t in tags[row, :n]]
        assert served["labels"][row, n:].tolist() == [""] * (7 - n)
    shares = tf.nn.softmax(out["emissions"]).numpy()
    np.testing.assert_allclose(served["probabilities"][1], shares[1, :2].mean(0), rtol=1e-5)
    assert served["label"][1] == CLASSES[int(np.argmax(shares[1, :2].mean(0)))]


@pytest.mark.parametrize("length, message", [([5, 1], "every length must be in"), ([-1, 1], "every length must be in"),
                                             ([1], "one length per row")])
def test_bad_lengths_are_clear_errors(exported, length, message):
    serve = exported[3]
    x, _ = padded(rows((4, 2)))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serve(frames=tf.constant(x), length=tf.constant(length, tf.int32))


def test_missing_values_read_as_the_training_mean(exported):
    serve = exported[3]
    x, lengths = padded(rows((4,)))
    with_mean = x.copy()
    x[0, 2, 1], with_mean[0, 2, 1] = np.nan, MEAN[1]
    x[0, 1, 0], with_mean[0, 1, 0] = np.inf, MEAN[0]
    nan, mean = (serve(frames=tf.constant(v), length=tf.constant(lengths)) for v in (x, with_mean))
    np.testing.assert_allclose(nan["probabilities"].numpy(), mean["probabilities"].numpy(), rtol=1e-6)


def test_empty_batch_no_frames_and_empty_rows_are_defined(exported):
    task, _, _, serve = exported
    empty = serve(frames=tf.zeros([0, 5, D]), length=tf.zeros([0], tf.int32))
    assert empty["probabilities"].shape == (0, 3) and empty["label"].shape == (0,)
    none = serve(frames=tf.zeros([2, 0, D]), length=tf.zeros([2], tf.int32))
    assert none["probabilities"].shape == (2, 3) and np.all(np.isfinite(none["probabilities"]))
    if task == "label_frames":
        assert none["labels"].shape == (2, 0) and none["label"].numpy().tolist() == [b"", b""]
        np.testing.assert_allclose(none["probabilities"], 1 / 3)
    else:
        assert {v.decode() for v in none["label"].numpy()} <= set(CLASSES)
