"""The recommendation export: catalogue ids in, the same ranking as the evaluation out,
a client-held-state `step`, unknown ids, empty and padded histories — without seqkeras."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqkeras.recommendation.application import RecommendationApplication, last_step_scores
from seqkeras.recommendation.data import RESERVED
from seqkeras.recommendation.server import STEP_SIGNATURE, RecommenderServer
from seqkeras.recommendation.spec import DataSpec, ModelSpec, Spec
from without_seqkeras import call_signatures


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("rec")
    rng = np.random.default_rng(0)
    lines = []
    for user in range(1, 31):
        start = int(rng.integers(0, 20))
        for step in range(int(rng.integers(4, 10))):
            lines.append(f"{user}\t{100 + (start + step) % 20 * 3}\t4\t{step}\n")
    (tmp_path / "u.data").write_text("".join(lines))
    keras.utils.set_random_seed(0)
    spec = Spec(name="r", data=DataSpec(path=str(tmp_path / "u.data"), max_history=5, shuffle_buffer=0),
                model=ModelSpec(units=8, embedding_dim=8, dropout=0.0))
    spec.training.epochs = 3
    spec.validate()
    app = RecommendationApplication()
    data = app.build_data(spec, None, None)
    model = app.build_model(spec, data)
    model.fit(data.train, epochs=3, verbose=0)
    version = RecommenderServer(model, data).export(tmp_path / "saved_models", "r")
    return data, model, version


def catalogue_ids(data, indices):
    return data.catalogue[np.asarray(indices) - RESERVED]


def expected_top(scores, exclude, k):
    scores = scores.copy()
    scores[:RESERVED] = -np.inf
    scores[list(exclude)] = -np.inf
    return np.argsort(-scores, kind="stable")[:k]


def test_serving_ranks_as_the_evaluation_and_step_chains_the_state(trained):
    data, model, version = trained
    split = data.splits["validation"]
    histories = [h[-5:] for h in split.histories[:3]]
    width = max(len(h) for h in histories)
    request = np.zeros([3, width], np.int64)
    for row, h in enumerate(histories):
        request[row, :len(h)] = catalogue_ids(data, h)
    scores = last_step_scores(model, histories, data.max_history)
    names, outputs = call_signatures(version, [("serving_default", {"history": request.tolist(), "k": 5})])
    served = outputs[0]
    for row, h in enumerate(histories):
        top = expected_top(scores[row], set(h.tolist()), 5)
        assert list(served["items"][row]) == list(catalogue_ids(data, top))
        np.testing.assert_allclose(served["scores"][row], scores[row][top], rtol=1e-4, atol=1e-5)
    assert {"serving_default", "recommend", STEP_SIGNATURE} <= set(names)
    # Step through user 0's history, the client carrying the state from call to call.
    first = histories[0]
    step = tf.saved_model.load(str(version)).signatures[STEP_SIGNATURE]
    state = tf.zeros([1, int(sum(model.state_sizes))])
    for item in catalogue_ids(data, first):
        out = step(item=tf.constant([item], tf.int64), state=state, k=tf.constant(5))
        state = out["state"]
    top = expected_top(scores[0], {int(first[-1])}, 5)
    assert list(out["items"].numpy()[0]) == list(catalogue_ids(data, top))


def test_padding_anywhere_unknown_ids_empty_histories_and_large_k(trained):
    data, model, version = trained
    signature = tf.saved_model.load(str(version)).signatures["serving_default"]
    history = catalogue_ids(data, data.splits["validation"].histories[0][-2:])
    a, b = (int(i) for i in history)
    out = signature(history=tf.constant([[a, b, 0, 0], [0, a, 0, b], [0, 0, 0, 0], [a, 999999, b, 0],
                                         [999999, 888888, 0, 0]], tf.int64), k=tf.constant(4))
    items, scores = out["items"].numpy(), out["scores"].numpy()
    np.testing.assert_array_equal(items[0], items[1])                         # padding anywhere
    np.testing.assert_array_equal(items[0], items[3])                         # unknown ids skipped
    popular = np.argsort(-data.popularity, kind="stable")[:4]
    assert list(items[2]) == list(catalogue_ids(data, popular))               # empty: popularity
    assert list(items[4]) == list(catalogue_ids(data, popular))               # all unknown: popularity
    assert np.isfinite(scores).all() and not {a, b} & set(items[0].tolist())
    empty = signature(history=tf.zeros([2, 0], tf.int64), k=tf.constant(4))
    assert list(empty["items"].numpy()[0]) == list(catalogue_ids(data, popular))
    every = signature(history=tf.constant([[a, b]], tf.int64), k=tf.constant(10_000))
    count = len(data.catalogue)
    assert every["items"].shape == (1, count)
    assert (every["items"].numpy()[0, -2:] == 0).all() and np.isneginf(every["scores"].numpy()[0, -2:]).all()
    none = signature(history=tf.constant([[a]], tf.int64), k=tf.constant(0))
    assert none["items"].shape == (1, 0)


def test_a_history_longer_than_max_history_reads_its_last_items(trained):
    data, model, version = trained
    signature = tf.saved_model.load(str(version)).signatures["serving_default"]
    ids = [int(i) for i in data.catalogue[:8]]
    long = signature(history=tf.constant([ids], tf.int64), k=tf.constant(3))
    scores = last_step_scores(model, [np.arange(RESERVED, RESERVED + 8)], data.max_history)[0]
    top = expected_top(scores, set(range(RESERVED, RESERVED + 8)), 3)
    assert list(long["items"].numpy()[0]) == list(catalogue_ids(data, top))
