"""`seqkeras.recommendation.evaluation` against brute-force Python loops written from its definitions."""

import ast
import doctest
import math
import pathlib

import numpy as np
import pytest

from seqkeras.recommendation import evaluation
from seqkeras.recommendation.evaluation import (BASELINES, RESERVED, baseline_scores, best_baseline, compare,
                                                evaluate_scores, item_knn_scores, markov_scores, popularity_scores,
                                                rank_of_targets, ranking_metrics)

VOCABULARY = 12


def _dataset(users=15, seed=0):
    """Training sequences with repeats, and evaluation histories holding an unknown (1) item and an empty one."""
    rng = np.random.default_rng(seed)
    train = [rng.integers(RESERVED, VOCABULARY - 1, size=rng.integers(1, 9)) for _ in range(users)]  # V−1 unseen
    histories = [np.concatenate([sequence, [1] if u % 4 == 0 else []]).astype(np.int64)
                 for u, sequence in enumerate(train)]
    histories[3] = np.zeros(0, dtype=np.int64)
    return train, histories


@pytest.fixture(params=[evaluation._BLOCK, 2 * VOCABULARY + 1])
def block(request, monkeypatch):
    """The module's block size, and a tiny one that splits users and items into several blocks."""
    monkeypatch.setattr(evaluation, "_BLOCK", request.param)
    return request.param


# ----------------------------------------------------------------------------- brute force


def _brute_rank(scores, target, history, exclude):
    candidates = [j for j in range(RESERVED, len(scores)) if not (exclude and j in set(history) and j != target)]
    better = sum(1 for j in candidates if scores[j] > scores[target])
    tied = sum(1 for j in candidates if j != target and scores[j] == scores[target])
    return 1 + better + tied


def _brute_metrics(ranks, ks):
    out = {}
    for k in ks:
        out[f"hr@{k}"] = sum(1 for r in ranks if r <= k) / len(ranks)
        out[f"ndcg@{k}"] = sum(1 / math.log2(r + 1) for r in ranks if r <= k) / len(ranks)
        out[f"mrr@{k}"] = sum(1 / r for r in ranks if r <= k) / len(ranks)
    out["users"] = len(ranks)
    return out


def _brute_popularity(train):
    counts = [0] * VOCABULARY
    for sequence in train:
        for item in sequence:
            counts[item] += 1
    return counts


def _tie(counts, scale):
    return [scale * c / (max(counts) + 1) for c in counts]


def _brute_markov(train, last_items):
    tie = _tie(_brute_popularity(train), 1.0)
    out = np.full((len(last_items), VOCABULARY), -np.inf)
    for u, last in enumerate(last_items):
        for j in range(RESERVED, VOCABULARY):
            count = sum(1 for sequence in train for a, b in zip(sequence[:-1], sequence[1:]) if a == last and b == j)
            out[u, j] = count + tie[j]
    return out


def _brute_cosine(train):
    users_of = {i: {u for u, sequence in enumerate(train) if i in set(sequence)} for i in range(VOCABULARY)}
    cosine = {}
    for i in range(VOCABULARY):
        for j in range(VOCABULARY):
            both = len(users_of[i] & users_of[j])
            cosine[i, j] = both / math.sqrt(len(users_of[i]) * len(users_of[j])) if both else 0.0
    return cosine


def _brute_knn(train, histories, neighbours):
    cosine = _brute_cosine(train)
    kept = {}
    for h in range(RESERVED, VOCABULARY):
        others = sorted((j for j in range(VOCABULARY) if j != h), key=lambda j: (-round(cosine[h, j], 12), j))
        chosen = others[:neighbours] if neighbours else others
        kept[h] = {j: cosine[h, j] for j in chosen}
    tie = _tie(_brute_popularity(train), 1e-6)
    out = np.full((len(histories), VOCABULARY), -np.inf)
    for u, history in enumerate(histories):
        items = {int(h) for h in history if h >= RESERVED}
        for j in range(RESERVED, VOCABULARY):
            out[u, j] = sum(kept[h].get(j, 0.0) for h in items) + tie[j]
    return out


# ----------------------------------------------------------------------------- ranks and metrics


@pytest.mark.parametrize("exclude", [True, False])
def test_ranks_match_brute_force_with_ties(exclude, block):
    rng = np.random.default_rng(1)
    _, histories = _dataset()
    scores = rng.integers(0, 4, size=(len(histories), VOCABULARY)).astype(np.float64)  # many ties
    scores[:, :RESERVED] = 100.0  # above every candidate: must not count
    targets = rng.integers(RESERVED, VOCABULARY, size=len(histories))
    targets[0] = histories[0][0]  # a re-watched target stays rankable
    ranks = rank_of_targets(scores, targets, histories, exclude_history=exclude)
    expected = [_brute_rank(scores[u], targets[u], histories[u], exclude) for u in range(len(histories))]
    assert ranks.dtype == np.float64
    np.testing.assert_array_equal(ranks, expected)


def test_ties_are_pessimistic_and_the_target_kept():
    scores = np.array([[0, 0, 5.0, 5.0, 5.0, 1.0, 7.0]])
    assert rank_of_targets(scores, [3]).tolist() == [4.0]  # 6 beats it; 2 and 4 tie with it
    assert rank_of_targets(scores, [3], [np.array([6, 2])]).tolist() == [2.0]
    assert rank_of_targets(scores, [3], [np.array([3, 6, 2, 4])]).tolist() == [1.0]  # target in its own history
    assert rank_of_targets(scores, [3], [np.array([6, 2])], exclude_history=False).tolist() == [4.0]
    assert rank_of_targets(scores, [3], None).tolist() == [4.0]


def test_constant_scorer_ranks_the_target_last(block):
    _, histories = _dataset()
    targets = np.full(len(histories), RESERVED + 1)
    ranks = rank_of_targets(np.zeros((len(histories), VOCABULARY)), targets, histories)
    last = [VOCABULARY - RESERVED - len({int(h) for h in history if h >= RESERVED} - {RESERVED + 1})
            for history in histories]
    np.testing.assert_array_equal(ranks, last)


def test_reserved_indices_are_never_ranked():
    rng = np.random.default_rng(2)
    scores = rng.normal(size=(6, VOCABULARY))
    targets = rng.integers(RESERVED, VOCABULARY, size=6)
    low, high = scores.copy(), scores.copy()
    low[:, :RESERVED], high[:, :RESERVED] = -np.inf, np.inf
    high[0, 0] = np.nan  # NaN at a reserved index is ignored too
    np.testing.assert_array_equal(rank_of_targets(low, targets), rank_of_targets(high, targets))
    assert rank_of_targets(high, targets).max() <= VOCABULARY - RESERVED
    with pytest.raises(ValueError, match="targets"):
        rank_of_targets(scores, np.array([1, 2, 2, 2, 2, 2]))
    with pytest.raises(ValueError, match="targets"):
        rank_of_targets(scores, np.full(6, VOCABULARY))


def test_rank_argument_errors():
    scores = np.zeros((2, VOCABULARY))
    scores[1, 5] = np.nan
    with pytest.raises(ValueError, match="NaN at 1 candidate items of user 1"):
        rank_of_targets(scores, [2, 2])
    with pytest.raises(ValueError, match="U = 3 targets"):
        rank_of_targets(np.zeros((2, VOCABULARY)), [2, 2, 2])
    with pytest.raises(ValueError, match="one array per target"):
        rank_of_targets(np.zeros((2, VOCABULARY)), [2, 2], [np.array([3])])
    with pytest.raises(ValueError, match="histories"):
        rank_of_targets(np.zeros((1, VOCABULARY)), [2], [np.array([VOCABULARY])])


def test_one_dimensional_scores_are_shared_by_every_user():
    train, histories = _dataset()
    popularity = popularity_scores(train, VOCABULARY)
    targets = np.full(len(histories), VOCABULARY - 2)
    shared = evaluate_scores(popularity, targets, histories)
    assert shared == evaluate_scores(np.tile(popularity, (len(histories), 1)), targets, histories)


def test_metrics_hand_computed():
    metrics = ranking_metrics([1.0, 3.0, 15.0, 40.0], ks=(10, 20))
    assert list(metrics) == ["hr@10", "ndcg@10", "mrr@10", "hr@20", "ndcg@20", "mrr@20", "users"]
    assert metrics["users"] == 4
    assert metrics["hr@10"] == pytest.approx(2 / 4)
    assert metrics["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4)) / 4)  # rank 1 → 1, rank 3 → 1/2
    assert metrics["mrr@10"] == pytest.approx((1 + 1 / 3) / 4)
    assert metrics["hr@20"] == pytest.approx(3 / 4)
    assert metrics["ndcg@20"] == pytest.approx((1 + 0.5 + 1 / math.log2(16)) / 4)
    assert metrics["mrr@20"] == pytest.approx((1 + 1 / 3 + 1 / 15) / 4)
    assert ranking_metrics([1.0], ks=(1,)) == {"hr@1": 1.0, "ndcg@1": 1.0, "mrr@1": 1.0, "users": 1}


def test_metrics_match_brute_force():
    ranks = np.random.default_rng(3).integers(1, 40, size=50).astype(np.float64)
    expected = _brute_metrics(ranks.tolist(), (1, 5, 10, 20))
    got = ranking_metrics(ranks, ks=(1, 5, 10, 20))
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), key


def test_metric_edge_cases():
    empty = ranking_metrics([], ks=(10,))
    assert empty["users"] == 0 and math.isnan(empty["hr@10"]) and math.isnan(empty["ndcg@10"])
    with pytest.raises(ValueError, match="ranks"):
        ranking_metrics([0.0])
    with pytest.raises(ValueError, match="ks"):
        ranking_metrics([1.0], ks=(0,))


# ----------------------------------------------------------------------------- baselines


def test_popularity_counts():
    train = [np.array([2, 3, 3, 5]), np.array([3, 2]), np.array([5])]
    expected = [-np.inf, -np.inf, 2.0, 3.0, 0.0, 2.0]
    assert popularity_scores(train, 6).tolist() == expected
    train, _ = _dataset()
    counts = _brute_popularity(train)
    np.testing.assert_array_equal(popularity_scores(train, VOCABULARY)[RESERVED:], counts[RESERVED:])


def test_markov_transition_counts_and_tie_break():
    train = [np.array([2, 3, 4, 3]), np.array([3, 4, 2]), np.array([5, 5])]
    # pairs: 2→3, 3→4, 4→3, 3→4, 4→2, 5→5; popularity 2: 2, 3: 3, 4: 2, 5: 2 → tie-break c / 4
    scores = markov_scores(train, [3, 4, 5, 6, 1], 7)
    np.testing.assert_allclose(scores[:, RESERVED:], [
        [0.5, 0.75, 2.5, 0.5, 0.0],  # from 3: 4 twice
        [1.5, 1.75, 0.5, 0.5, 0.0],  # from 4: 3 once and 2 once; the tie goes to the more popular 3
        [0.5, 0.75, 0.5, 1.5, 0.0],  # from 5: a self-transition
        [0.5, 0.75, 0.5, 0.5, 0.0],  # no successor: popularity order
        [0.5, 0.75, 0.5, 0.5, 0.0],  # the unknown index: popularity order
    ])
    assert np.isneginf(scores[:, :RESERVED]).all()
    # a count always beats the tie-break: 4 (count 1, least popular) above 3 (count 0, most popular)
    one = markov_scores([np.array([2, 4]), np.array([3, 3, 3, 3, 3])], [2], 5)
    assert one[0, 4] > one[0, 3]


def test_markov_matches_brute_force():
    train, histories = _dataset()
    last_items = [int(h[-1]) if h.size else 0 for h in histories]
    np.testing.assert_allclose(markov_scores(train, last_items, VOCABULARY), _brute_markov(train, last_items))


def test_knn_hand_computed_cosines():
    train = [np.array([2, 3]), np.array([2, 3, 4, 4]), np.array([4])]
    # users of 2: {0, 1}, of 3: {0, 1}, of 4: {1, 2} → cos(2, 3) = 1, cos(2, 4) = cos(3, 4) = 1/2
    scores = item_knn_scores(train, [np.array([2]), np.array([2, 3, 2]), np.array([4]), np.array([1])], 6)
    tie = 1e-6 * np.array([2, 2, 3, 0]) / 4
    np.testing.assert_allclose(scores[:, RESERVED:] - tie, [
        [0.0, 1.0, 0.5, 0.0],  # an item is not its own neighbour
        [1.0, 1.0, 1.0, 0.0],  # repeats in the history count once
        [0.5, 0.5, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],  # unknown item: the popularity order alone
    ], atol=1e-12)
    assert np.isneginf(scores[:, :RESERVED]).all()
    nearest = item_knn_scores(train, [np.array([4])], 6, neighbours=1)  # 4's nearest: 2 (ties: lower index)
    np.testing.assert_allclose(nearest[0, RESERVED:] - tie, [0.5, 0.0, 0.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("neighbours", [0, 1, 3])
def test_knn_matches_brute_force(neighbours, block):
    train, histories = _dataset()
    got = item_knn_scores(train, histories, VOCABULARY, neighbours=neighbours)
    np.testing.assert_allclose(got, _brute_knn(train, histories, neighbours), rtol=0, atol=1e-12)


def test_baseline_scores_shapes_and_wiring():
    train, histories = _dataset()
    scores = baseline_scores(train, histories, VOCABULARY)
    assert tuple(scores) == BASELINES
    for name, values in scores.items():
        assert values.shape == (len(histories), VOCABULARY), name
        assert np.isneginf(values[:, :RESERVED]).all(), name
    popularity = popularity_scores(train, VOCABULARY)
    np.testing.assert_array_equal(scores["popularity"], np.tile(popularity, (len(histories), 1)))
    last_items = [int(h[-1]) if h.size else 0 for h in histories]  # empty history → popularity order
    np.testing.assert_array_equal(scores["markov"], markov_scores(train, last_items, VOCABULARY))
    np.testing.assert_array_equal(scores["item_knn"], item_knn_scores(train, histories, VOCABULARY))


def test_baseline_argument_errors():
    with pytest.raises(ValueError, match="train_sequences"):
        popularity_scores([np.array([2, 7])], 6)
    with pytest.raises(ValueError, match="vocabulary_size"):
        popularity_scores([np.array([1])], 2)
    with pytest.raises(ValueError, match="last_items"):
        markov_scores([np.array([2, 3])], [6], 6)
    with pytest.raises(ValueError, match="popularity"):
        markov_scores([np.array([2, 3])], [2], 6, popularity=np.zeros(5))
    with pytest.raises(ValueError, match="neighbours"):
        item_knn_scores([np.array([2, 3])], [np.array([2])], 6, neighbours=-1)


# ----------------------------------------------------------------------------- tables


def _result(hr, ndcg, users=10):
    return {"hr@10": hr, "ndcg@10": ndcg, "mrr@10": ndcg / 2, "hr@20": hr + 0.1, "ndcg@20": ndcg + 0.01,
            "mrr@20": ndcg / 2 + 0.01, "users": users}


def test_compare_and_best_baseline():
    results = {"popularity": _result(0.05, 0.02), "model": _result(0.12, 0.06), "markov": _result(0.08, 0.04),
               "item_knn": _result(0.08, 0.03), "RecBole GRU4Rec": _result(0.10, 0.05)}
    assert best_baseline(results) == "markov"  # tied with item_knn on hr@10: the first in BASELINES
    assert best_baseline(results, "ndcg@10") == "markov"
    assert best_baseline(results, "hr@20", baselines=("item_knn", "markov")) == "item_knn"
    with pytest.raises(ValueError, match="no baseline"):
        best_baseline({"model": _result(0.1, 0.1)})

    text = compare(results)
    lines = text.splitlines()
    assert lines[0].split() == ["recommender", "HR@10", "NDCG@10", "MRR@10", "HR@20", "NDCG@20", "MRR@20",
                                "HR@10/best", "NDCG@10/best", "users"]
    order = [line.split("  ")[0].strip() for line in lines[2:7]]
    assert order == ["model", "RecBole GRU4Rec", "popularity", "markov", "item_knn"]
    model = lines[2].split()
    assert model[1:3] == ["0.1200", "0.0600"]
    assert model[-3:] == ["1.500", "1.500", "10"]  # 0.12 / 0.08 and 0.06 / 0.04
    assert "best baseline: markov (by hr@10)" in text
    for name in results:
        assert name in text

    partial = compare({"model": {"hr@10": 0.2, "users": 3}}, ks=(10, 20))  # no baseline: no ratio columns
    assert "/best" not in partial and "-" in partial.splitlines()[2]
    with pytest.raises(ValueError, match="empty"):
        compare({})


def test_end_to_end_on_a_tiny_log():
    train, histories = _dataset(users=30, seed=4)
    rng = np.random.default_rng(5)
    targets = rng.integers(RESERVED, VOCABULARY - 1, size=len(histories))
    results = {name: evaluate_scores(scores, targets, histories) for name, scores in
               baseline_scores(train, histories, VOCABULARY).items()}
    oracle = np.zeros((len(histories), VOCABULARY))
    oracle[np.arange(len(histories)), targets] = 1.0
    results = {"oracle": evaluate_scores(oracle, targets, histories), **results}
    assert results["oracle"]["hr@10"] == results["oracle"]["ndcg@10"] == 1.0
    assert all(result["users"] == 30 for result in results.values())
    assert compare(results).splitlines()[2].startswith("oracle")


def test_imports_only_numpy_and_doctests():
    tree = ast.parse(pathlib.Path(evaluation.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    # seqkeras.tables is plain Python (no TensorFlow) too.
    assert {name if name.startswith("seqkeras") else name.split(".")[0] for name in imported} <= {
        "__future__", "math", "typing", "numpy", "seqkeras.tables"}
    assert doctest.testmod(evaluation, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
