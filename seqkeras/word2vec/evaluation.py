"""Intrinsic evaluation of word vectors: analogies, word similarity, neighbours, clusters.

The analogy and similarity scores follow gensim's `KeyedVectors.evaluate_word_analogies`
and `evaluate_word_pairs` exactly (and so word2vec's ``compute-accuracy``), so the
numbers are comparable with theirs (tests check equality on the same vectors):

* vocabulary restricted to the `restrict_vocab` most frequent words (30 000 as
  ``compute-accuracy``), looked up case-insensitively by upper-casing (the first, most
  frequent, spelling of a word wins);
* a question with a word outside that vocabulary is counted as out-of-vocabulary and
  skipped (reported as ``oov``), not scored;
* 3CosAdd: ``argmax_d cos(d, b − a + c)`` over unit vectors, the three question words
  excluded; 3CosMul (Levy & Goldberg 2014): ``argmax_d cos'(d,b)·cos'(d,c) /
  (cos'(d,a) + ε)`` with ``cos' = (1 + cos)/2``;
* sections whose name starts with ``gram`` are syntactic, the others semantic.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import numpy as np

from seqkeras.data import DataError


@dataclasses.dataclass
class WordVectors:
    """Words (most frequent first) and their vectors ``float32[V, D]``.

    Example:
        >>> wv = WordVectors(["a", "b"], np.eye(2, dtype="float32"))
        >>> wv.most_similar("a", topn=1)
        [('b', 0.0)]
    """

    words: list
    vectors: np.ndarray

    def __post_init__(self):
        self.words = list(self.words)
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words):
            raise ValueError(f"vectors must be [len(words), D] = [{len(self.words)}, D], "
                             f"received {self.vectors.shape}")
        self.index = {}
        for i, word in enumerate(self.words):
            self.index.setdefault(word, i)
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = self.vectors / np.where(norms == 0, 1, norms)

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    def __getitem__(self, word):
        return self.vectors[self.index[word]]

    def similarity(self, a: str, b: str) -> float:
        return float(self.unit[self.index[a]] @ self.unit[self.index[b]])

    def most_similar(self, positive: Sequence[str] | str = (), negative: Sequence[str] = (), topn: int = 10,
                     restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """Nearest words by cosine to ``mean(unit(positive)) − mean(unit(negative))``
        (normalised), the query words excluded, as gensim's ``most_similar``."""
        if isinstance(positive, str):
            positive = [positive]
        missing = [w for w in [*positive, *negative] if w not in self.index]
        if missing:
            raise KeyError(f"words not in the vocabulary: {missing}")
        if not positive and not negative:
            raise ValueError("most_similar needs at least one positive or negative word")
        query = np.mean([self.unit[self.index[w]] for w in positive]
                        + [-self.unit[self.index[w]] for w in negative], axis=0)
        query /= max(np.linalg.norm(query), 1e-12)
        limit = len(self) if restrict_vocab is None else restrict_vocab
        scores = self.unit[:limit] @ query.astype(np.float32)
        exclude = {self.index[w] for w in [*positive, *negative]}
        order = np.argsort(-scores, kind="stable")
        return [(self.words[i], float(scores[i])) for i in order if i not in exclude][:topn]


@dataclasses.dataclass
class AnalogyResult:
    """Per-section and total analogy accuracy (``correct``/``scored``), plus the
    questions skipped because a word is out of vocabulary."""

    sections: list          # [{"section", "correct", "total"}] in file order
    correct: int
    total: int
    oov: int
    questions: int
    semantic: tuple         # (correct, total)
    syntactic: tuple

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def semantic_accuracy(self) -> float:
        return self.semantic[0] / self.semantic[1] if self.semantic[1] else 0.0

    @property
    def syntactic_accuracy(self) -> float:
        return self.syntactic[0] / self.syntactic[1] if self.syntactic[1] else 0.0

    @property
    def oov_ratio(self) -> float:
        return self.oov / self.questions if self.questions else 0.0

    def report(self) -> str:
        lines = [f"{s['section']:<30} {s['correct']:>6}/{s['total']:<6} "
                 f"{100 * s['correct'] / max(s['total'], 1):6.2f}%" for s in self.sections]
        lines += [f"{'semantic':<30} {self.semantic[0]:>6}/{self.semantic[1]:<6} {100 * self.semantic_accuracy:6.2f}%",
                  f"{'syntactic':<30} {self.syntactic[0]:>6}/{self.syntactic[1]:<6} {100 * self.syntactic_accuracy:6.2f}%",
                  f"{'total':<30} {self.correct:>6}/{self.total:<6} {100 * self.accuracy:6.2f}%",
                  f"out of vocabulary: {self.oov}/{self.questions} questions ({100 * self.oov_ratio:.1f}%)"]
        return "\n".join(lines)


def _restricted_vocab(wv: WordVectors, restrict_vocab: int, case_insensitive: bool) -> dict:
    ok = {}
    for i, word in enumerate(wv.words[:restrict_vocab]):
        key = word.upper() if case_insensitive else word
        ok.setdefault(key, i)        # the first (most frequent) spelling wins
    return ok


def read_analogies(path: str | os.PathLike, case_insensitive: bool = True):
    """Parse ``questions-words.txt``: ``: section`` headers, then ``a b c d`` lines.

    Returns:
        list of (section name, [(a, b, c, d), ...]); lines that do not have 4 words
        are skipped (as gensim does).

    Raises:
        DataError: a missing file, or a question before the first section header.
    """
    sections: list = []
    try:
        handle = open(path, encoding="utf-8")
    except OSError as error:
        raise DataError(path, None, f"cannot read analogy file: {error.strerror}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if line.startswith(": "):
                sections.append((line[2:].strip(), []))
                continue
            words = line.split()
            if not words:
                continue
            if not sections:
                raise DataError(path, number, "question before the first ': section' line")
            if len(words) != 4:
                continue
            sections[-1][1].append(tuple(w.upper() for w in words) if case_insensitive else tuple(words))
    if not sections:
        raise DataError(path, None, "no analogy sections (': name' lines) found")
    return sections


def evaluate_analogies(wv: WordVectors, path: str | os.PathLike, restrict_vocab: int = 30000,
                       case_insensitive: bool = True, method: str = "3CosAdd",
                       batch_size: int = 1024) -> AnalogyResult:
    """Accuracy on ``a : b :: c : d`` questions, predicting ``d`` from ``b − a + c``.

    Matches gensim's ``evaluate_word_analogies(path, restrict_vocab, case_insensitive)``
    for ``method="3CosAdd"``: the five best candidates among the first `restrict_vocab`
    words, the question words excluded, are scanned for the first one (upper-cased)
    that is in the restricted vocabulary and is not a question word.

    Args:
        wv: `WordVectors`, most frequent word first.
        path: the analogy file.
        restrict_vocab: only the most frequent words take part (questions and answers).
        case_insensitive: upper-case words and questions before matching.
        method: ``"3CosAdd"`` (parallelogram) or ``"3CosMul"``.
    """
    if method not in ("3CosAdd", "3CosMul"):
        raise ValueError(f"method must be '3CosAdd' or '3CosMul', received {method!r}")
    ok = _restricted_vocab(wv, restrict_vocab, case_insensitive)
    unit = wv.unit[:restrict_vocab]
    sections = read_analogies(path, case_insensitive)
    results, oov, questions = [], 0, 0
    for name, quads in sections:
        known = [q for q in quads if all(w in ok for w in q)]
        questions += len(quads)
        oov += len(quads) - len(known)
        correct = 0
        for start in range(0, len(known), batch_size):
            chunk = known[start:start + batch_size]
            ids = np.array([[ok[w] for w in q] for q in chunk], dtype=np.int64)
            a, b, c = unit[ids[:, 0]], unit[ids[:, 1]], unit[ids[:, 2]]
            if method == "3CosAdd":
                query = (b + c - a) / 3.0
                query /= np.maximum(np.linalg.norm(query, axis=1, keepdims=True), 1e-12)
                scores = query @ unit.T
            else:
                cos = lambda x: (1.0 + x @ unit.T) / 2.0          # noqa: E731
                scores = cos(b) * cos(c) / (cos(a) + 1e-3)
            rows = np.arange(len(chunk))[:, None]
            scores[rows, ids[:, :3]] = -np.inf                    # exclude the question words
            top = np.argpartition(-scores, 5, axis=1)[:, :5] if scores.shape[1] > 5 else \
                np.tile(np.arange(scores.shape[1]), (len(chunk), 1))
            top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), 1, kind="stable"), 1)
            for q, candidates in zip(chunk, top):
                predicted = None
                ignore = set(q[:3])
                for index in candidates:
                    predicted = wv.words[index].upper() if case_insensitive else wv.words[index]
                    if predicted in ok and predicted not in ignore:
                        break
                correct += predicted == q[3]
        results.append({"section": name, "correct": int(correct), "total": len(known)})
    semantic = [r for r in results if not r["section"].startswith("gram")]
    syntactic = [r for r in results if r["section"].startswith("gram")]
    total = lambda rs: (sum(r["correct"] for r in rs), sum(r["total"] for r in rs))  # noqa: E731
    return AnalogyResult(results, *total(results), oov, questions, total(semantic), total(syntactic))


@dataclasses.dataclass
class SimilarityResult:
    """Correlation of cosine similarity with human scores over the pairs in vocabulary."""

    spearman: float
    pearson: float
    pairs: int
    oov: int

    @property
    def oov_ratio(self) -> float:
        return self.oov / (self.pairs + self.oov) if self.pairs + self.oov else 0.0


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), as `scipy.stats.rankdata`."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denominator) if denominator else float("nan")


def evaluate_word_pairs(wv: WordVectors, path: str | os.PathLike, restrict_vocab: int = 300000,
                        case_insensitive: bool = True, delimiter: str = "\t") -> SimilarityResult:
    """Spearman (and Pearson) correlation on a ``word1<TAB>word2<TAB>score`` file
    (WordSim-353), as gensim's ``evaluate_word_pairs``: ``#`` lines are comments,
    malformed lines skipped, pairs with an unknown word counted in ``oov``.

    Raises:
        DataError: a missing file, or no pair with both words known.
    """
    ok = _restricted_vocab(wv, restrict_vocab, case_insensitive)
    gold, model, oov = [], [], 0
    try:
        handle = open(path, encoding="utf-8")
    except OSError as error:
        raise DataError(path, None, f"cannot read word-pair file: {error.strerror}") from None
    with handle:
        for line in handle:
            if not line or line.startswith("#"):
                continue
            parts = line.split(delimiter)
            if len(parts) != 3:
                continue
            a, b = (p.upper() for p in parts[:2]) if case_insensitive else parts[:2]
            try:
                score = float(parts[2])
            except ValueError:
                continue
            if a not in ok or b not in ok:
                oov += 1
                continue
            gold.append(score)
            model.append(float(wv.unit[ok[a]] @ wv.unit[ok[b]]))
    if len(gold) < 2:
        raise DataError(path, None, f"only {len(gold)} pairs with both words in the vocabulary "
                                    f"({oov} out of vocabulary): cannot correlate")
    gold, model = np.array(gold), np.array(model)
    return SimilarityResult(_pearson(_ranks(gold), _ranks(model)), _pearson(gold, model), len(gold), oov)


def kmeans_clusters(wv: WordVectors, top_n: int = 1000, clusters: int = 20, iterations: int = 50,
                    seed: int = 0) -> list[list[str]]:
    """Spherical k-means (k-means++ seeding) over the unit vectors of the `top_n` most frequent words.

    Returns:
        `clusters` lists of words, each sorted by closeness to its centroid (the
        lecture notes' word-clustering table).
    """
    unit = wv.unit[:top_n]
    if len(unit) < clusters:
        raise ValueError(f"need at least clusters={clusters} words, the vocabulary has {len(unit)}")
    rng = np.random.default_rng(seed)
    # k-means++ seeding on cosine distance
    chosen = [int(rng.integers(len(unit)))]
    for _ in range(1, clusters):
        distance = np.maximum(1.0 - np.max(unit @ unit[chosen].T, axis=1), 0.0) ** 2
        total = distance.sum()
        chosen.append(int(rng.choice(len(unit), p=distance / total)) if total > 0 else
                      int(rng.integers(len(unit))))
    centroids = unit[chosen]
    for _ in range(iterations):
        assign = np.argmax(unit @ centroids.T, axis=1)
        new = np.stack([unit[assign == k].sum(0) if np.any(assign == k) else centroids[k]
                        for k in range(clusters)])
        new /= np.maximum(np.linalg.norm(new, axis=1, keepdims=True), 1e-12)
        if np.allclose(new, centroids):
            break
        centroids = new
    scores = unit @ centroids.T
    assign = np.argmax(scores, axis=1)
    groups = []
    for k in range(clusters):
        members = np.flatnonzero(assign == k)
        members = members[np.argsort(-scores[members, k])]
        groups.append([wv.words[i] for i in members])
    return groups


def cluster_report(groups: list[list[str]], per_cluster: int = 12) -> str:
    """The clusters as a table: ``k  word, word, ...``."""
    return "\n".join(f"{k + 1:>3}  {', '.join(g[:per_cluster])}" for k, g in enumerate(groups) if g)
