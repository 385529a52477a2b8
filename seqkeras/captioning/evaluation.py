"""Caption evaluation: corpus BLEU-1..4 against every reference, two baselines, an examples page.

BLEU is sacrebleu's corpus BLEU, the same settings for the model and the baselines:
lower-cased, ``tokenize="13a"`` (sacrebleu's default, mteval-v13a: punctuation split
off), ``smooth_method="exp"``, all references of an image as reference streams (an
image with fewer references repeats its first, which changes neither the clipped
counts nor the closest reference length). BLEU-n is sacrebleu with
``max_ngram_order=n`` (the geometric mean of the 1..n-gram precisions times the
brevity penalty, as in the captioning papers). The captions keep their punctuation
(most Flickr8k references end in " ."), which the published figures (coco-caption's
PTB tokenizer) strip; `without_punctuation` gives that variant, reported beside.

Baselines (no model involved in the first; the trained encoder in the second):

* ``constant``: one training caption answered for every image — the one whose
  corpus BLEU-4 over the *training* images (against their references) is highest,
  found by brute force over every distinct training caption
  (``evaluation.constant_candidates`` > 0 tries that many, a seeded sample).
  `ConstantCaptionSearch` computes the exact sacrebleu statistics of a constant
  answer from per-n-gram tables in O(|caption|) per candidate (a test checks it
  against sacrebleu); the winner is then scored on the validation images by sacrebleu.
* ``nearest_neighbour``: for each validation image, the closest training image by
  cosine similarity of the trained encoder's pooled vector s; answer that image's
  consensus caption (the one of its captions with the highest mean sentence BLEU
  against its other captions).
"""

from __future__ import annotations

import base64
import collections
import html
import pathlib
import re

import numpy as np
import sacrebleu
from sacrebleu.metrics import BLEU

from seqkeras.tables import number, text_table

ORDERS = (1, 2, 3, 4)
BLEU_SETTINGS = dict(lowercase=True, tokenize="13a", smooth_method="exp")
BLEU_DESCRIPTION = "sacrebleu corpus BLEU, lowercase, tokenize 13a, smooth exp, all references"


def reference_streams(references: list[list[str]]) -> list[list[str]]:
    """Per-image reference lists → sacrebleu's reference streams (short lists repeat their first)."""
    width = max(len(refs) for refs in references)
    return [[refs[j] if j < len(refs) else refs[0] for refs in references] for j in range(width)]


def bleu_scores(hypotheses: list[str], references: list[list[str]]) -> dict[str, float]:
    """``{"bleu1": …, "bleu4": …}``: corpus BLEU-n (0–100) of one hypothesis per image."""
    streams = reference_streams(references)
    return {f"bleu{n}": float(BLEU(max_ngram_order=n, **BLEU_SETTINGS).corpus_score(hypotheses, streams).score)
            for n in ORDERS}


def _tokens(text: str, bleu=BLEU(**BLEU_SETTINGS)) -> list[str]:
    return bleu._preprocess_segment(text).split()   # sacrebleu's own lower-casing and 13a split


_PUNCTUATION = re.compile(r"^[^\w\s]+$")


def without_punctuation(text: str) -> str:
    """The lower-cased 13a tokens of `text` that are not only punctuation, space-joined."""
    return " ".join(t for t in _tokens(text) if not _PUNCTUATION.match(t))


def _ngrams(tokens: list[str], n: int) -> collections.Counter:
    return collections.Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


class ConstantCaptionSearch:
    """Exact corpus-BLEU statistics of answering one caption for every image.

    For a constant hypothesis h over N images: clipped n-gram matches
    ``Σ_i Σ_g min(c_h(g), max_ref_i(g)) = Σ_g Σ_{k ≤ c_h(g)} #{i : max_ref_i(g) ≥ k}``,
    totals ``N · (|h| − n + 1)``, hypothesis length ``N · |h|`` and reference length
    ``Σ_i closest_i(|h|)`` (sacrebleu's closest reference length, ties to the
    shorter) — tables built once, so each candidate costs O(|h|).

    Args:
        references: the references of each image.
    """

    def __init__(self, references: list[list[str]]):
        self.images = len(references)
        at_least = collections.defaultdict(list)      # n-gram → [#images with max count ≥ 1, ≥ 2, ...]
        lengths = []
        for refs in references:
            tokens = [_tokens(r) for r in refs]
            lengths.append(np.array([len(t) for t in tokens]))
            for n in ORDERS:
                best = collections.Counter()
                for t in tokens:
                    best |= _ngrams(t, n)
                for gram, count in best.items():
                    row = at_least[gram]
                    row.extend([0] * (count - len(row)))
                    for k in range(count):
                        row[k] += 1
        self.at_least = dict(at_least)
        self.ref_lengths = lengths
        self._closest: dict[int, int] = {}

    def closest_length(self, hyp_len: int) -> int:
        """Σ over images of sacrebleu's closest reference length to `hyp_len`."""
        if hyp_len not in self._closest:
            total = 0
            for refs in self.ref_lengths:
                diff = np.abs(refs - hyp_len)
                total += int(refs[diff == diff.min()].min())
            self._closest[hyp_len] = total
        return self._closest[hyp_len]

    def statistics(self, caption: str) -> tuple[list[int], list[int], int, int]:
        """(correct per order, total per order, system length, reference length)."""
        tokens = _tokens(caption)
        correct, total = [], []
        for n in ORDERS:
            grams = _ngrams(tokens, n)
            correct.append(sum(sum(self.at_least.get(g, ())[:c]) for g, c in grams.items()))
            total.append(self.images * max(0, len(tokens) - n + 1))
        return correct, total, self.images * len(tokens), self.closest_length(len(tokens))

    def bleu(self, caption: str, order: int = 4) -> float:
        """Corpus BLEU-`order` of `caption` answered for every image (as sacrebleu computes it)."""
        correct, total, sys_len, ref_len = self.statistics(caption)
        return float(BLEU.compute_bleu(correct[:order], total[:order], sys_len, ref_len, smooth_method="exp",
                                       max_ngram_order=order).score)

    def best(self, candidates) -> tuple[str, float]:
        """The candidate with the highest BLEU-4 (first on ties) and that BLEU-4."""
        best, best_score = None, -1.0
        for caption in dict.fromkeys(candidates):
            if not _tokens(caption):
                continue
            score = self.bleu(caption)
            if score > best_score:
                best, best_score = caption, score
        return best, best_score


def constant_caption(train_references: list[list[str]], candidates: int = 0, seed: int = 0) -> tuple[str, float]:
    """The training caption that scores best as the constant answer on the training images.

    Args:
        train_references: the captions of every training image.
        candidates: try this many distinct training captions (a seeded sample); 0 = all.

    Returns:
        (caption, its BLEU-4 on the training images).
    """
    pool = list(dict.fromkeys(c for refs in train_references for c in refs))
    if candidates and candidates < len(pool):
        pool = [pool[i] for i in sorted(np.random.default_rng(seed).choice(len(pool), candidates, replace=False))]
    return ConstantCaptionSearch(train_references).best(pool)


def consensus_caption(captions: list[str]) -> str:
    """The caption with the highest mean sentence BLEU against the other captions of its image."""
    if len(captions) == 1:
        return captions[0]
    scores = [np.mean([sacrebleu.sentence_bleu(c, [o], lowercase=True).score
                       for j, o in enumerate(captions) if j != i]) for i, c in enumerate(captions)]
    return captions[int(np.argmax(scores))]


def nearest_neighbours(query: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """int[Q]: for each query row, the key row of highest cosine similarity."""
    def unit(x):
        x = np.asarray(x, np.float64)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    return np.argmax(unit(query) @ unit(keys).T, axis=1)


def retrieval_captions(query_features, train_features, train_references: list[list[str]]) -> list[str]:
    """The nearest training image's consensus caption for every query image."""
    neighbours = nearest_neighbours(query_features, train_features)
    cache: dict[int, str] = {}
    return [cache.setdefault(int(i), consensus_caption(train_references[int(i)])) for i in neighbours]


def comparison_table(rows: dict[str, dict[str, float]]) -> str:
    """BLEU-1..4 of each system, one row each."""
    return text_table(["system"] + [f"BLEU-{n}" for n in ORDERS],
                      [[name] + [number(scores[f"bleu{n}"], 2) for n in ORDERS] for name, scores in rows.items()])


def examples_page(path, images: list[str], references: list[list[str]], captions: dict[str, list[str]],
                  title: str = "Captions") -> pathlib.Path:
    """Write an HTML page: each image (embedded) beside every system's caption and the references.

    Args:
        path: the ``.html`` file.
        images: image file paths (embedded as base64 data URIs).
        references: each image's reference captions.
        captions: ``{system: [caption per image]}``.
    """
    rows = []
    for i, image in enumerate(images):
        data = pathlib.Path(image).read_bytes()
        kind = "png" if data[:4] == b"\x89PNG" else "jpeg"
        generated = "".join(f"<tr><th>{html.escape(name)}</th><td>{html.escape(texts[i])}</td></tr>"
                            for name, texts in captions.items())
        refs = "".join(f"<li>{html.escape(r)}</li>" for r in references[i])
        rows.append(f'<tr><td><img src="data:image/{kind};base64,{base64.b64encode(data).decode()}" '
                    f'width="192" alt="{html.escape(pathlib.Path(image).stem)}"></td>'
                    f'<td><table class="sys">{generated}</table><ol>{refs}</ol></td></tr>')
    page = (f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;max-width:60em}td{vertical-align:top;padding:4px}"
            "table.sys th{text-align:left;padding-right:1em;white-space:nowrap}ol{color:#555}</style>"
            f"<h1>{html.escape(title)}</h1><table>{''.join(rows)}</table>")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def examples_figure(path, images: list[str], references: list[list[str]], captions: dict[str, list[str]],
                    columns: int = 4, title: str = "") -> pathlib.Path:
    """Write a PNG grid: each image above every system's caption and its first reference
    (arguments as `examples_page`)."""
    import textwrap

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.image
    import matplotlib.pyplot as plt

    rows = -(-len(images) // columns)
    lines = len(captions) + 1
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, (2.6 + 0.55 * lines * 2) * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, image in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(matplotlib.image.imread(image))
        text = [f"{name}: {texts[i]}" for name, texts in captions.items()] + [f"reference: {references[i][0]}"]
        ax.set_title(pathlib.Path(image).stem, fontsize=8)
        ax.annotate("\n".join(textwrap.fill(t, 48) for t in text), (0.5, -0.03), xycoords="axes fraction",
                    ha="center", va="top", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
