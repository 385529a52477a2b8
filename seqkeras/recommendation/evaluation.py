"""Full-ranking evaluation of next-item recommenders: ranks, metrics, baselines, tables.

Every recommender — the model, the three baselines, and peers such as RecBole — is
scored by these functions on the same users, so their numbers compare. Pure NumPy: no
TensorFlow, no Keras, no SciPy (SciPy is not a seqkeras dependency; the kNN baseline
works in blocks of items instead of holding a ``V × V`` similarity matrix).

Conventions:

* items are internal indices ``0 .. V − 1``: 0 = padding, 1 = unknown, ``2 .. V − 1``
  the catalogue (``RESERVED = 2``); a reserved index is never ranked;
* `train_sequences`: one ``int`` array per training user, the items in time order;
* for each evaluated user ``u``: ``scores[u]: float[V]``, one score per index;
  ``targets[u] ≥ 2``, the held-out item; ``histories[u]``, the padding-free items the
  user's model input holds before the target (for validation: the training
  sequence; for test: the training sequence and the validation item);
* ranking is FULL: the target competes with every catalogue item (never sampled
  negatives), minus the user's history items when `exclude_history`.

Example:
    >>> train = [np.array([2, 3, 4]), np.array([3, 4, 5]), np.array([2, 4, 3])]
    >>> targets = np.array([5, 2, 4])
    >>> scores = baseline_scores(train, train, vocabulary_size=6)
    >>> rank_of_targets(scores["markov"], targets, train, exclude_history=False).tolist()
    [2.0, 3.0, 1.0]
    >>> evaluate_scores(scores["markov"], targets, train, ks=(1,), exclude_history=False)
    {'hr@1': 0.3333333333333333, 'ndcg@1': 0.3333333333333333, 'mrr@1': 0.3333333333333333, 'users': 3}
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from seqkeras.tables import number, text_table

RESERVED = 2  # indices 0 (padding) and 1 (unknown) are never ranked
BASELINES = ("popularity", "markov", "item_knn")

# Entries of one working block (users × items, or items × items): bounds the
# temporary memory of ranking and of the kNN baseline at about 32 MiB of float64.
_BLOCK = 1 << 22

# kNN scores are sums of cosines, not integers: the popularity tie-break is scaled
# far below any meaningful difference between two such sums (and far above float64
# rounding of them), so it orders exact ties only.
_KNN_TIE_SCALE = 1e-6


# ----------------------------------------------------------------------------- inputs


def _flatten(sequences: Sequence, vocabulary_size: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, items)``: the row (sequence number) and item of every entry, in order.

    Raises:
        ValueError: on an item outside ``[0, V)``.
    """
    arrays = [np.asarray(sequence, dtype=np.int64).reshape(-1) for sequence in sequences]
    lengths = np.fromiter((array.size for array in arrays), dtype=np.int64, count=len(arrays))
    items = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    rows = np.repeat(np.arange(len(arrays)), lengths)
    if items.size and (items.min() < 0 or items.max() >= vocabulary_size):
        bad = int(items.min()) if items.min() < 0 else int(items.max())
        raise ValueError(f"{what} must hold indices in [0, {vocabulary_size}) for vocabulary_size="
                         f"{vocabulary_size}, received {bad} (sequence {int(rows[np.argmax(items == bad)])})")
    return rows, items


def _vocabulary(vocabulary_size: int) -> int:
    if vocabulary_size <= RESERVED:
        raise ValueError(f"vocabulary_size must be > {RESERVED} (the reserved indices), received {vocabulary_size}")
    return int(vocabulary_size)


def _history_matrix(histories: Sequence, vocabulary_size: int) -> np.ndarray:
    """``float[U, V]``: 1 where the user's history holds the catalogue item (repeats count once)."""
    rows, items = _flatten(histories, vocabulary_size, "histories")
    matrix = np.zeros((len(histories), vocabulary_size))
    keep = items >= RESERVED
    matrix[rows[keep], items[keep]] = 1.0
    return matrix


def _tie_break(popularity, train_sequences: Sequence, vocabulary_size: int, scale: float) -> np.ndarray:
    """``float[V]``: ``scale · popularity / (max popularity + 1)``, in ``[0, scale)``; 0 at reserved indices."""
    if popularity is None:
        popularity = popularity_scores(train_sequences, vocabulary_size)
    popularity = np.asarray(popularity, dtype=np.float64).reshape(-1)
    if popularity.size != vocabulary_size:
        raise ValueError(f"popularity must be float[V] = float[{vocabulary_size}], received {popularity.size} values")
    counts = np.where(np.isfinite(popularity), popularity, 0.0)
    counts[:RESERVED] = 0.0
    return scale * counts / (counts.max() + 1.0)


# ----------------------------------------------------------------------------- ranks and metrics


def rank_of_targets(scores: np.ndarray, targets, histories: Sequence | None = None,
                    exclude_history: bool = True) -> np.ndarray:
    """The full-ranking rank of each user's target among the candidate items (1 = best).

    With ``s = scores[u]``, ``t = targets[u]`` and the candidates ``C`` = indices
    ``≥ RESERVED``, minus the items of ``histories[u]`` when `exclude_history`, plus ``t``:

        rank = 1 + #{j ∈ C : s_j > s_t} + #{j ∈ C, j ≠ t : s_j = s_t} = #{j ∈ C : s_j ≥ s_t}

    Ties are pessimistic — the target ranks below every candidate with its score — so
    ties never flatter a model: a constant scorer ranks the target last among the
    candidates (not in the middle, and not first), and a model cannot gain by
    predicting coarse or saturated scores.

    The target stays a candidate even when it occurs in the history: a re-watched item
    is a legitimate next item, and excluding it would make it unrankable (rank would
    be undefined); every other history item is removed from the competition.

    Args:
        scores: ``float[U, V]``, one score per index for each evaluated user; or
            ``float[V]``, the same scores for every user (e.g. `popularity_scores`).
            Scores at reserved indices are ignored. NaN at a candidate raises.
        targets: ``int[U]``, each in ``[RESERVED, V)``.
        histories: ``U`` padding-free ``int`` arrays (items in ``[0, V)``; reserved ones
            are ignored), or None for no exclusion.
        exclude_history: remove the history items (but not the target) from the candidates.

    Returns:
        ``float[U]``, ranks in ``[1, number of candidates]``.

    Example:
        >>> scores = np.array([[9.0, 9.0, 0.3, 0.5, 0.3, 0.1]])
        >>> rank_of_targets(scores, [2]).tolist()  # 3 beats it, 4 ties with it
        [3.0]
        >>> rank_of_targets(scores, [2], [np.array([3])]).tolist()
        [2.0]
    """
    targets = np.asarray(targets, dtype=np.int64).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = np.broadcast_to(scores, (targets.size, scores.size))
    if scores.ndim != 2 or scores.shape[0] != targets.size:
        raise ValueError(f"scores must be float[U, V] with U = {targets.size} targets, received shape {scores.shape}")
    users, vocabulary_size = scores.shape
    _vocabulary(vocabulary_size)
    if targets.size and (targets.min() < RESERVED or targets.max() >= vocabulary_size):
        bad = int(targets.min()) if targets.min() < RESERVED else int(targets.max())
        raise ValueError(f"targets must lie in [{RESERVED}, {vocabulary_size}), received {bad}")
    if histories is not None and len(histories) != users:
        raise ValueError(f"histories must hold one array per target ({users}), received {len(histories)}")
    if exclude_history and histories is not None:
        history_rows, history_items = _flatten(histories, vocabulary_size, "histories")
    else:
        history_rows = history_items = np.zeros(0, dtype=np.int64)

    ranks = np.zeros(users)
    step = max(1, _BLOCK // vocabulary_size)
    for start in range(0, users, step):
        stop = min(start + step, users)
        block = scores[start:stop]
        rows = np.arange(stop - start)
        candidate = np.ones(block.shape, dtype=bool)
        candidate[:, :RESERVED] = False
        low, high = np.searchsorted(history_rows, [start, stop])  # history_rows is sorted
        candidate[history_rows[low:high] - start, history_items[low:high]] = False
        candidate[rows, targets[start:stop]] = True
        missing = np.isnan(block) & candidate
        if missing.any():
            user = start + int(np.argmax(missing.any(axis=1)))
            raise ValueError(f"scores are NaN at {int(missing[user - start].sum())} candidate items of user {user}")
        target_score = block[rows, targets[start:stop]]
        ranks[start:stop] = ((block >= target_score[:, None]) & candidate).sum(axis=1)
    return ranks


def ranking_metrics(ranks, ks: Sequence[int] = (10, 20)) -> dict:
    """Hit rate, NDCG and MRR at each cut-off, for one relevant item per user.

    Over the ``U`` users, with ``r`` the target's rank:

    * ``hr@k = mean [r ≤ k]``;
    * ``ndcg@k = mean [r ≤ k] / log2(r + 1)`` (the ideal DCG of one relevant item is 1);
    * ``mrr@k = mean [r ≤ k] / r``.

    Args:
        ranks: ``float[U]`` from `rank_of_targets`, each ``≥ 1``.
        ks: the cut-offs, each ``≥ 1``.

    Returns:
        ``{"hr@k": float, "ndcg@k": float, "mrr@k": float}`` for each ``k`` in order,
        then ``"users": U``; the metrics are NaN when there is no user.

    Example:
        >>> ranking_metrics([1, 3, 50], ks=(10,))  # ndcg: (1 + 1/log2(4)) / 3, mrr: (1 + 1/3) / 3
        {'hr@10': 0.6666666666666666, 'ndcg@10': 0.5, 'mrr@10': 0.4444444444444444, 'users': 3}
    """
    ranks = np.asarray(ranks, dtype=np.float64).reshape(-1)
    if np.isnan(ranks).any() or (ranks.size and ranks.min() < 1):
        raise ValueError(f"ranks must be ≥ 1 and not NaN, received minimum {np.nanmin(ranks) if ranks.size else None}")
    def mean(values: np.ndarray) -> float:
        return float(values.mean()) if ranks.size else math.nan

    metrics: dict = {}
    for k in ks:
        if int(k) != k or k < 1:
            raise ValueError(f"ks must be integers ≥ 1, received {k}")
        k = int(k)
        hit = ranks <= k
        metrics[f"hr@{k}"] = mean(hit.astype(np.float64))
        metrics[f"ndcg@{k}"] = mean(np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0))
        metrics[f"mrr@{k}"] = mean(np.where(hit, 1.0 / ranks, 0.0))
    metrics["users"] = int(ranks.size)
    return metrics


def evaluate_scores(scores: np.ndarray, targets, histories: Sequence | None, ks: Sequence[int] = (10, 20),
                    exclude_history: bool = True) -> dict:
    """`ranking_metrics` of `rank_of_targets`: one recommender's result on one split.

    Example:
        >>> evaluate_scores(np.array([[0, 0, 3.0, 2.0, 1.0]]), [3], [np.array([2])], ks=(1,))
        {'hr@1': 1.0, 'ndcg@1': 1.0, 'mrr@1': 1.0, 'users': 1}
    """
    return ranking_metrics(rank_of_targets(scores, targets, histories, exclude_history), ks)


# ----------------------------------------------------------------------------- baselines


def popularity_scores(train_sequences: Sequence, vocabulary_size: int) -> np.ndarray:
    """``float[V]``: how often each item occurs in the training sequences (repeats count); reserved indices ``−inf``.

    Example:
        >>> popularity_scores([np.array([2, 3, 3]), np.array([3])], 5).tolist()
        [-inf, -inf, 1.0, 3.0, 0.0]
    """
    vocabulary_size = _vocabulary(vocabulary_size)
    _, items = _flatten(train_sequences, vocabulary_size, "train_sequences")
    counts = np.bincount(items[items >= RESERVED], minlength=vocabulary_size).astype(np.float64)
    counts[:RESERVED] = -np.inf
    return counts


def markov_scores(train_sequences: Sequence, last_items, vocabulary_size: int, popularity=None) -> np.ndarray:
    """First-order Markov chain: how often each item followed the user's last item in training.

    ``score[u, j] = #{consecutive pairs (last_items[u], j) in a training sequence}
    + popularity_j / (max popularity + 1)``: the counts are integers and the
    popularity term lies in ``[0, 1)``, so it breaks ties among equal counts only (a
    last item never seen, or with no successor, falls back to popularity). A pair
    with a reserved index is not counted.

    Args:
        train_sequences: ``int`` arrays, one per training user, in time order.
        last_items: ``int[U]``, the last history item of each evaluated user
            (a reserved index gives the popularity order).
        vocabulary_size: ``V``.
        popularity: ``float[V]`` (`popularity_scores`), or None to count it here.

    Returns:
        ``float[U, V]``; reserved indices ``−inf``.

    Example:
        >>> train = [np.array([2, 3, 4, 3]), np.array([3, 4, 2])]
        >>> markov_scores(train, [3, 4], 5).round(2).tolist()  # 3 → 4 twice; 4 → 3 and 4 → 2 once each
        [[-inf, -inf, 0.5, 0.75, 2.5], [-inf, -inf, 1.5, 1.75, 0.5]]
    """
    vocabulary_size = _vocabulary(vocabulary_size)
    rows, items = _flatten(train_sequences, vocabulary_size, "train_sequences")
    last_items = np.asarray(last_items, dtype=np.int64).reshape(-1)
    if last_items.size and (last_items.min() < 0 or last_items.max() >= vocabulary_size):
        raise ValueError(f"last_items must lie in [0, {vocabulary_size}), received "
                         f"{int(last_items.min()) if last_items.min() < 0 else int(last_items.max())}")
    pair = (rows[:-1] == rows[1:]) & (items[:-1] >= RESERVED) & (items[1:] >= RESERVED)
    codes, counts = np.unique(items[:-1][pair] * vocabulary_size + items[1:][pair], return_counts=True)
    sources, destinations = codes // vocabulary_size, codes % vocabulary_size  # sorted by source

    # The pairs leaving each user's last item are one run [low, high) of the sorted codes.
    low = np.searchsorted(sources, last_items, side="left")
    high = np.searchsorted(sources, last_items, side="right")
    lengths = high - low
    user = np.repeat(np.arange(last_items.size), lengths)
    position = np.repeat(low - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    scores = np.zeros((last_items.size, vocabulary_size))
    scores[user, destinations[position]] = counts[position]
    scores += _tie_break(popularity, train_sequences, vocabulary_size, 1.0)
    scores[:, :RESERVED] = -np.inf
    return scores


def item_knn_scores(train_sequences: Sequence, histories: Sequence, vocabulary_size: int, popularity=None,
                    neighbours: int = 0) -> np.ndarray:
    """Item-based k-nearest neighbours on co-occurrence in the training sequences.

    Item ``i``'s vector is ``x_i ∈ {0, 1}^users``, 1 for each training user whose
    sequence holds ``i`` (repeats count once), and

        cos(i, j) = x_i · x_j / (‖x_i‖ ‖x_j‖)   (0 when either item has no training user)
        score[u, j] = Σ_{h ∈ histories[u]} cos_k(h, j) + 10⁻⁶ · popularity_j / (max popularity + 1)

    where ``cos_k(h, ·)`` keeps only the `neighbours` largest cosines of item ``h``
    (ties, after rounding cosines to 12 decimals: the lower index; ``neighbours = 0``
    keeps all) and the others are 0, and
    the sum runs over the distinct catalogue items of the history. An item is not its
    own neighbour: ``cos_k(h, h) = 0`` (this matters for `neighbours` and for history
    items left as candidates). The popularity term is scaled by 10⁻⁶, not 1 as in
    `markov_scores`, because cosine sums are not integers: it orders exact ties only.

    The similarity is built in blocks of items, so no ``V × V`` matrix is held; memory
    stays of the order of the ``U × V`` result.

    Args:
        train_sequences: ``int`` arrays, one per training user.
        histories: ``U`` ``int`` arrays, the items each evaluated user has seen.
        vocabulary_size: ``V``.
        popularity: ``float[V]`` (`popularity_scores`), or None to count it here.
        neighbours: ``≥ 0``; each item's number of neighbours, 0 = all.

    Returns:
        ``float[U, V]``; reserved indices ``−inf``.

    Example:
        >>> train = [np.array([2, 3]), np.array([2, 3, 4]), np.array([4])]
        >>> item_knn_scores(train, [np.array([2])], 5).round(3).tolist()  # cos(2, 3) = 1, cos(2, 4) = 1/2
        [[-inf, -inf, 0.0, 1.0, 0.5]]
    """
    vocabulary_size = _vocabulary(vocabulary_size)
    if int(neighbours) != neighbours or neighbours < 0:
        raise ValueError(f"neighbours must be an integer ≥ 0, received {neighbours}")
    neighbours = int(neighbours)
    rows, items = _flatten(train_sequences, vocabulary_size, "train_sequences")
    keep = items >= RESERVED
    occurrence = np.zeros((len(train_sequences), vocabulary_size))  # x_i are its columns
    occurrence[rows[keep], items[keep]] = 1.0
    norms = np.sqrt(occurrence.sum(axis=0))
    occurrence /= np.where(norms > 0, norms, 1.0)  # unit columns: x_i · x_j is now the cosine
    history = _history_matrix(histories, vocabulary_size)

    scores = np.zeros(history.shape)
    step = max(1, _BLOCK // vocabulary_size)
    for start in range(0, vocabulary_size, step):
        stop = min(start + step, vocabulary_size)
        similarity = occurrence[:, start:stop].T @ occurrence  # [block, V]: cos(h, j) for h in the block
        similarity[np.arange(stop - start), np.arange(start, stop)] = 0.0
        if 0 < neighbours < vocabulary_size:
            # Stable sort of the rounded cosines: equal cosines keep index order, whatever their float rounding.
            order = np.argsort(-similarity.round(12), axis=1, kind="stable")
            pruned = np.zeros_like(similarity)
            nearest = order[:, :neighbours]
            np.put_along_axis(pruned, nearest, np.take_along_axis(similarity, nearest, axis=1), axis=1)
            similarity = pruned
        scores += history[:, start:stop] @ similarity
    scores += _tie_break(popularity, train_sequences, vocabulary_size, _KNN_TIE_SCALE)
    scores[:, :RESERVED] = -np.inf
    return scores


def baseline_scores(train_sequences: Sequence, histories: Sequence, vocabulary_size: int) -> dict[str, np.ndarray]:
    """The three baselines' scores for each evaluated user, each ``float[U, V]``.

    * ``popularity``: training counts (`popularity_scores`), the same for every user;
    * ``markov``: transitions from the last item of ``histories[u]`` (`markov_scores`;
      an empty history gives the popularity order);
    * ``item_knn``: cosine co-occurrence with all neighbours (`item_knn_scores`).

    Args:
        train_sequences: ``int`` arrays, one per training user.
        histories: ``U`` ``int`` arrays, the items each evaluated user has seen.
        vocabulary_size: ``V``.

    Returns:
        ``{name: float[U, V]}`` for the names in `BASELINES`, in that order.
    """
    vocabulary_size = _vocabulary(vocabulary_size)
    popularity = popularity_scores(train_sequences, vocabulary_size)
    last_items = np.array([int(np.asarray(h).reshape(-1)[-1]) if np.size(h) else 0 for h in histories], dtype=np.int64)
    return {
        "popularity": np.repeat(popularity[None, :], len(histories), axis=0),
        "markov": markov_scores(train_sequences, last_items, vocabulary_size, popularity),
        "item_knn": item_knn_scores(train_sequences, histories, vocabulary_size, popularity),
    }


# ----------------------------------------------------------------------------- tables


def best_baseline(results: Mapping[str, dict], metric: str = "hr@10", baselines: Sequence[str] = BASELINES) -> str:
    """The baseline in `results` with the highest `metric` (ties: the first in `baselines`).

    Raises:
        ValueError: when `results` scores none of `baselines` on `metric`.
    """
    scored = [(-results[name][metric], position, name) for position, name in enumerate(baselines)
              if name in results and metric in results[name] and not math.isnan(results[name][metric])]
    if not scored:
        raise ValueError(f"results hold no baseline among {tuple(baselines)} scored on {metric!r}, "
                         f"received {list(results)}")
    return min(scored)[2]


def compare(results: Mapping[str, dict], ks: Sequence[int] = (10, 20)) -> str:
    """Plain-text comparison of `evaluate_scores` results on the same users.

    One row per recommender — the non-baseline ones (the model, peers) in the order
    given, then the baselines — with HR, NDCG and MRR at each cut-off in `ks`, then
    ``HR@k/best`` and ``NDCG@k/best`` for the first cut-off ``k``: the row's value over
    that of the best baseline (`best_baseline` by ``hr@k``), and the number of users.

    Example:
        >>> results = {"model": {"hr@10": 0.2, "ndcg@10": 0.1, "mrr@10": 0.05, "users": 9},
        ...            "popularity": {"hr@10": 0.1, "ndcg@10": 0.05, "mrr@10": 0.02, "users": 9}}
        >>> print(compare(results, ks=(10,)))
        recommender   HR@10  NDCG@10  MRR@10  HR@10/best  NDCG@10/best  users
        -----------  ------  -------  ------  ----------  ------------  -----
        model        0.2000   0.1000  0.0500       2.000         2.000      9
        popularity   0.1000   0.0500  0.0200       1.000         1.000      9
        best baseline: popularity (by hr@10)
    """
    names = [name for name in results if name not in BASELINES] + [name for name in results if name in BASELINES]
    if not names:
        raise ValueError("results is empty: nothing to compare")
    if not ks:
        raise ValueError("ks is empty: no cut-off to show")
    first = int(ks[0])
    metric = f"hr@{first}"
    best = best_baseline(results, metric) if any(name in results for name in BASELINES) else None
    ratios = [f"hr@{first}", f"ndcg@{first}"] if best is not None else []
    # Each ratio against the baseline best by that metric (one baseline may lead on HR, another on NDCG).
    reference_of = {key: best_baseline(results, key) for key in ratios}

    header = ["recommender"]
    for k in ks:
        header += [f"HR@{k}", f"NDCG@{k}", f"MRR@{k}"]
    header += [f"{key.split('@')[0].upper()}@{first}/best" for key in ratios] + ["users"]
    rows = []
    for name in names:
        result = results[name]
        row = [name]
        for k in ks:
            row += [number(result.get(f"{key}@{k}"), 4) for key in ("hr", "ndcg", "mrr")]
        for key in ratios:
            value, reference = result.get(key), results[reference_of[key]].get(key)
            row.append(number(value / reference if value is not None and reference else None, 3))
        row.append(str(result.get("users", "-")))
        rows.append(row)
    text = text_table(header, rows)
    if best is not None:
        text += f"\nbest baseline: {best} (by {metric})"
    return text
