"""Bias in word vectors: WEAT effect sizes with permutation p-values, and the analogy probe.

WEAT (Caliskan, Bryson & Narayanan 2017, "Semantics derived automatically from language
corpora contain human-like biases", Science 356): two sets of target words X, Y (e.g.
flowers, insects) of equal size, two sets of attribute words A, B (pleasant,
unpleasant). With cos the cosine similarity,

    s(w, A, B)    = mean_{a∈A} cos(w, a) − mean_{b∈B} cos(w, b)
    S(X, Y, A, B) = Σ_{x∈X} s(x, A, B) − Σ_{y∈Y} s(y, A, B)
    d             = (mean_{x∈X} s(x, A, B) − mean_{y∈Y} s(y, A, B)) / std_{w∈X∪Y} s(w, A, B)

d is the effect size (std: the sample standard deviation, ddof = 1). The one-sided
p-value is the share of the equal-size partitions (X_i, Y_i) of X ∪ Y with
S(X_i, Y_i, A, B) > S(X, Y, A, B): computed over all C(|X|+|Y|, |X|) partitions when
there are at most `exact_limit` of them, else estimated from `samples` random
partitions (seeded; its resolution is 1/samples).

Coverage rule (`weat_tests`): a word is looked up as written, else lower-cased;
out-of-vocabulary words are dropped; a test whose four lists do not all keep at least
`min_words` words is skipped (and reported with the counts). The larger target list is
then cut to the smaller's size, keeping the words in their published order, since the
test statistic and its permutations assume |X| = |Y| (Caliskan et al. dropped names the
same way in WEAT 3). Attribute lists may differ in size (s uses means).

The word lists (WEAT 1–10 of the paper's supplement) ship in ``weat_lists.json``
(`load_weat_lists`), with their citations and the paper's GloVe effect sizes.

The analogy probe (Bolukbasi et al. 2016): for each occupation o, the top words of
``she − he + o`` (3CosAdd, `WordVectors.most_similar`, the three query words excluded).

Also ``seqkeras weat VECTORS`` and the word2vec pipeline's ``evaluation.weat = true``.

Example:
    >>> wv = load_word2vec_format("runs/imdb_word2vec/vectors.txt")     # doctest: +SKIP
    >>> print(weat_table(weat_tests(wv)))                               # doctest: +SKIP
    >>> print(probe_table(analogy_probe(wv)))                           # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import itertools
import json
import math
from typing import Sequence

import numpy as np

from seqkeras.word2vec.evaluation import WordVectors

LISTS_FILE = "weat_lists.json"


def load_weat_lists() -> dict:
    """The shipped lists: ``{"source", "tests": [{"id", "name", "targets": [{"name",
    "words"}] × 2, "attributes": [...] × 2, "paper_glove_d"}], "analogy_probe": {...}}``."""
    text = importlib.resources.files("seqkeras.word2vec").joinpath(LISTS_FILE).read_text(encoding="utf-8")
    return json.loads(text)


# ---------------------------------------------------------------- the statistic
def association(words: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """s(w, A, B) for each row of `words`.

    Args:
        words: unit vectors float[n, D]; a, b: unit vectors float[|A|, D], float[|B|, D].

    Returns:
        float64[n].
    """
    return (words @ a.T).mean(1).astype(np.float64) - (words @ b.T).mean(1).astype(np.float64)


def effect_size(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Caliskan et al.'s d for unit vectors X [n, D], Y [m, D], A, B (module docstring)."""
    sx, sy = association(x, a, b), association(y, a, b)
    spread = np.std(np.concatenate([sx, sy]), ddof=1)
    return float((sx.mean() - sy.mean()) / spread) if spread > 0 else 0.0


def permutation_p_value(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray,
                        exact_limit: int = 1_000_000, samples: int = 10_000, seed: int = 0) -> tuple[float, int, bool]:
    """One-sided p = share of equal-size partitions of X ∪ Y with a larger S.

    S(X_i, Y_i) = Σ_{X_i} s − Σ_{Y_i} s = 2·Σ_{X_i} s − Σ_{X∪Y} s, so only the sums of s
    over the |X|-subsets are needed.

    Returns:
        (p, partitions, exact): the partitions counted (all of them when `exact`).
    """
    s = np.concatenate([association(x, a, b), association(y, a, b)])
    n, k = len(s), len(x)
    observed = s[:k].sum()
    # Sums over subsets are compared with a tolerance: the observed partition (and its
    # ties) must not count as "larger" through rounding.
    tolerance = 1e-9 * max(1.0, float(np.abs(s).sum()))
    total = math.comb(n, k)
    if total <= exact_limit:
        larger = 0
        for chunk in _batched(itertools.combinations(range(n), k), 65536):
            sums = s[np.array(chunk)].sum(1)
            larger += int((sums > observed + tolerance).sum())
        return larger / total, total, True
    rng = np.random.default_rng(seed)
    larger = 0
    for start in range(0, samples, 4096):
        count = min(4096, samples - start)
        order = np.argsort(rng.random((count, n)), axis=1)[:, :k]
        larger += int((s[order].sum(1) > observed + tolerance).sum())
    return larger / samples, samples, False


def _batched(iterable, size):
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


# ---------------------------------------------------------------- the published tests
@dataclasses.dataclass
class WeatResult:
    """One WEAT test on one set of vectors.

    Attributes:
        id, name: the test (``weat1`` …).
        effect_size, p_value: d and the one-sided permutation p (None when skipped).
        partitions: the partitions the p-value counted; exact: all of them (else a
            random sample, and p = 0 reads "< 1/partitions").
        sizes: in-vocabulary words kept per list ``[X, Y, A, B]`` (targets after the cut
            to equal size); `listed`: the published sizes.
        missing: the out-of-vocabulary words.
        skipped: why the test was not run ("" when it was).
        paper_d: the paper's GloVe effect size.
    """

    id: str
    name: str
    effect_size: float | None
    p_value: float | None
    partitions: int
    exact: bool
    sizes: list
    listed: list
    missing: list
    skipped: str = ""
    paper_d: float | None = None


def lookup(wv: WordVectors, word: str) -> int | None:
    """The row of `word` (as written, else lower-cased), or None."""
    for key in (word, word.lower()):
        if key in wv.index:
            return wv.index[key]
    return None


def weat_tests(wv: WordVectors, tests: Sequence[dict] | None = None, min_words: int = 5,
               exact_limit: int = 1_000_000, samples: int = 10_000, seed: int = 0) -> list[WeatResult]:
    """Run WEAT `tests` (default: the shipped WEAT 1–10) on `wv` (coverage rule above).

    Args:
        wv: the word vectors.
        tests: test dicts as in ``weat_lists.json``.
        min_words: the fewest in-vocabulary words each of the four lists must keep.
        exact_limit, samples, seed: see `permutation_p_value`.
    """
    if min_words < 2:
        raise ValueError(f"min_words must be ≥ 2 (a standard deviation needs two words), received {min_words}")
    tests = load_weat_lists()["tests"] if tests is None else tests
    results = []
    for test in tests:
        groups = [*test["targets"], *test["attributes"]]
        rows, missing = [], []
        for group in groups:
            found = [(w, lookup(wv, w)) for w in group["words"]]
            rows.append([i for _, i in found if i is not None])
            missing += [w for w, i in found if i is None]
        listed = [len(g["words"]) for g in groups]
        common = dict(id=test["id"], name=test["name"], listed=listed, missing=missing,
                      paper_d=test.get("paper_glove_d"))
        short = [f"{g['name']} {len(r)}/{len(g['words'])}" for g, r in zip(groups, rows) if len(r) < min_words]
        if short:
            results.append(WeatResult(effect_size=None, p_value=None, partitions=0, exact=False,
                                      sizes=[len(r) for r in rows],
                                      skipped=f"< {min_words} in vocabulary: " + ", ".join(short), **common))
            continue
        size = min(len(rows[0]), len(rows[1]))
        rows[0], rows[1] = rows[0][:size], rows[1][:size]
        x, y, a, b = (wv.unit[r] for r in rows)
        p, partitions, exact = permutation_p_value(x, y, a, b, exact_limit, samples, seed)
        results.append(WeatResult(effect_size=effect_size(x, y, a, b), p_value=p, partitions=partitions, exact=exact,
                                  sizes=[len(r) for r in rows], **common))
    return results


def analogy_probe(wv: WordVectors, occupations: Sequence[str] | None = None, pair: Sequence[str] | None = None,
                  topn: int = 5) -> dict:
    """``{occupation: [(word, cosine)] × topn}`` for ``pair[0] : pair[1] :: occupation : ?``
    (default: the shipped he:she pair and occupations); occupations or pair words out of
    vocabulary are listed under ``"missing"``.

    Returns:
        ``{"pair", "completions": {occupation: [(word, score)]}, "missing": [...]}``.
    """
    probe = load_weat_lists()["analogy_probe"]
    occupations = probe["occupations"] if occupations is None else occupations
    a, b = probe["pair"] if pair is None else pair
    missing = [w for w in (a, b) if lookup(wv, w) is None]
    completions = {}
    if not missing:
        a, b = (wv.words[lookup(wv, w)] for w in (a, b))
        for occupation in occupations:
            row = lookup(wv, occupation)
            if row is None:
                missing.append(occupation)
                continue
            completions[occupation] = wv.most_similar(positive=[b, wv.words[row]], negative=[a], topn=topn)
    return {"pair": [a, b], "completions": completions, "missing": missing}


def format_p(result: WeatResult) -> str:
    """The p-value as text; 0 (no partition had a larger S) reads ``< 1/partitions``."""
    return f"{result.p_value:.4f}" if result.p_value else f"< {1 / result.partitions:.0e}"


def weat_table(results: Sequence[WeatResult]) -> str:
    """A markdown table: test, effect size, p, sizes kept / listed, the paper's d; skipped
    tests say why."""
    lines = ["| test | d | p | words kept X/Y/A/B (listed) | paper d (GloVe) |", "|---|---|---|---|---|"]
    for r in results:
        kept = "/".join(map(str, r.sizes)) + " (" + "/".join(map(str, r.listed)) + ")"
        paper = "" if r.paper_d is None else f"{r.paper_d:.2f}"
        if r.skipped:
            lines.append(f"| {r.id}: {r.name} | skipped | {r.skipped} | {kept} | {paper} |")
            continue
        p = f"{format_p(r)} ({'all' if r.exact else 'sampled'} {r.partitions:,} partitions)"
        lines.append(f"| {r.id}: {r.name} | {r.effect_size:+.2f} | {p} | {kept} | {paper} |")
    return "\n".join(lines)


def probe_table(probe: dict) -> str:
    """A markdown table of the analogy probe's completions."""
    a, b = probe["pair"]
    lines = [f"| {a} : {b} :: occupation : ? | top completions |", "|---|---|"]
    lines += [f"| {o} | {', '.join(w for w, _ in words)} |" for o, words in probe["completions"].items()]
    if probe["missing"]:
        lines.append(f"\nnot in the vocabulary: {', '.join(probe['missing'])}")
    return "\n".join(lines)
