"""Split-leak audit: how much of each pipeline's validation split its training split already holds.

For every spec in ``pipelines/*.toml`` (plus ``sst2_sentiment_clean``: the SST-2 spec
on ``sst2/train_clean.tsv.gz`` / ``sst2/valid_clean.tsv``) the script reads the files
the spec names with the package's own readers and splits them exactly as the
pipeline does (a validation file, the classification hash split
`seqkeras.classification.data.hash_split`, the last ``validation_fraction`` of the
lines or sentences), then counts the validation examples that are exact duplicates
of, contained in, or near-duplicates of a training example. Pipelines without a text
validation split (word2vec, the synthetic long-range tasks) are listed as "n/a".

Definitions:
  * text: the example's text with whitespace collapsed and lower-cased; its tokens
    are the whitespace-separated words of that text. Example = a labelled row
    (classification), a sentence's token sequence (tagging), a source sentence
    (translation), a line with >= 5 words (language model; for PTB char the words
    are the "_"-separated groups of symbols).
  * exact duplicate: the validation text equals some training text (translation:
    the source sentence; "pair" counts (source, target) pairs equal to a training pair).
  * contained: not exact, and the validation tokens occur as a contiguous run inside
    a longer training example (classification and tagging; SST's phrase leak).
    Found with rolling hashes of each example's first min(n, 8) tokens over the
    training token stream, every hit checked token by token.
  * near-duplicate: neither of the above, and the Jaccard similarity of the token
    5-gram shingle sets is >= 0.8 with some training example (classification and
    translation; examples under 5 tokens have no shingles). Exact: prefix-filtered
    shingle index (candidates share one of their smallest-hash shingles), every
    candidate pair's Jaccard computed.
  * leaked share: (exact + contained + near-duplicate) / validation examples; the
    three columns are disjoint (each example counted in the first that applies).
  * "—": the check does not apply to that kind of data.

Reproduce (about 35 s of CPU):

    python bench/split_leaks.py --data-dir ../shared/data [--pipelines a,b]

Measured on the shared data: SST-2 ``valid.tsv`` 93.6 % leaked (5,894 of 6,735 phrases
inside a training phrase), the clean split 0 %; CoNLL-2003 testa 7.0 %, UD EWT dev 6.2 %,
WikiANN dev 3.7 % (3.25 % exact, DATA.md's 3.3 %), PTB valid 1.8 % of the lines; IMDB,
UCI, Multi30k and Tiny Shakespeare under 2 %.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from seqkeras.classification.data import hash_split, read_labelled  # noqa: E402
from seqkeras.data import resolve_path, text_lines  # noqa: E402
from seqkeras.language_model.data import resolve_corpus  # noqa: E402
from seqkeras.pipeline import load_spec  # noqa: E402
from seqkeras.tagging.data import read_sentences  # noqa: E402
from seqkeras.translation.data import read_pairs  # noqa: E402

PIPELINES = pathlib.Path(__file__).resolve().parent.parent / "pipelines"
# name -> (spec file stem, overrides): audited splits that are not a shipped spec as is.
VARIANTS = {"sst2_sentiment_clean": ("sst2_sentiment", {"data.train": "sst2/train_clean.tsv.gz",
                                                        "data.validation": "sst2/valid_clean.tsv"})}
NO_TEXT_SPLIT = {
    "word2vec": "no validation split: trained on the whole corpus, scored on analogies / WordSim-353",
    "long_range": "synthetic sequences drawn fresh each step; validation is another random sample",
}
LM_MIN_WORDS = 5
SHINGLE = 5
JACCARD = 0.8
ANCHOR = 8  # tokens hashed to find "contained" candidates
BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: the rolling hash is a polynomial mod 2**64


def normalize(text: str) -> list[str]:
    """The tokens of a text: whitespace collapsed, lower-cased."""
    return text.lower().split()


@dataclasses.dataclass
class Split:
    """A pipeline's train / validation examples (token lists) and which checks apply."""

    train: list[list[str]]
    validation: list[list[str]]
    contained: bool
    near: bool
    notes: list[str] = dataclasses.field(default_factory=list)
    exact_label: str = ""


# --- one reader per kind of data -------------------------------------------------------

def classification_split(spec, data_dir) -> Split:
    """Labelled rows: the validation file, or the pipeline's own fingerprint hash split."""
    d = spec.data
    texts, _ = read_labelled(resolve_path(d.train, data_dir), d.format, d.text_column, d.label_column)
    if d.validation:
        val_texts, _ = read_labelled(resolve_path(d.validation, data_dir), d.format, d.text_column, d.label_column)
        how = f"validation file {d.validation}"
    else:
        held_out = hash_split(texts, d.validation_fraction)
        texts, val_texts = texts[~held_out], texts[held_out]
        how = f"hash split {d.validation_fraction:g} of {d.train}"
    decode = lambda rows: [normalize(t.decode("utf-8", "replace")) for t in rows]  # noqa: E731
    return Split(decode(texts), decode(val_texts), contained=True, near=True, notes=[how])


def held_out(read, data_spec, unit: str) -> tuple[list, list, str]:
    """(train, validation, how): the spec's validation file, or the last
    ``validation_fraction`` of the training `unit`s, rounded as the pipelines round it."""
    train = read(data_spec.train)
    if data_spec.validation:
        return train, read(data_spec.validation), f"validation file {data_spec.validation}"
    keep = len(train) - max(1, int(round(len(train) * data_spec.validation_fraction)))
    return train[:keep], train[keep:], f"last {data_spec.validation_fraction:g} of the {unit}"


def tagging_split(spec, data_dir) -> Split:
    """Sentences' token sequences: the validation file, or the last fraction of the sentences."""
    d = spec.data

    def sentences(name):
        rows = read_sentences(resolve_path(name, data_dir), d.format, d.token_column, d.tag_column)
        return [normalize(" ".join(t.decode("utf-8") for t in s["tokens"])) for s in rows.as_numpy_iterator()]

    train, validation, how = held_out(sentences, d, "sentences")
    return Split(train, validation, contained=True, near=False, notes=[how])


def translation_split(spec, data_dir) -> Split:
    """Source sentences (near-duplicates on the source); exact (source, target) pairs noted."""
    d = spec.data
    train = read_pairs(resolve_path(d.train_source, data_dir), resolve_path(d.train_target, data_dir))
    validation = read_pairs(resolve_path(d.validation_source, data_dir), resolve_path(d.validation_target, data_dir))
    key = lambda s, t: (" ".join(normalize(s)), " ".join(normalize(t)))  # noqa: E731
    train_pairs = {key(s, t) for s, t in zip(*train)}
    pairs = sum(key(s, t) in train_pairs for s, t in zip(*validation))
    split = Split([normalize(s) for s in train[0]], [normalize(s) for s in validation[0]],
                  contained=False, near=True, notes=[f"validation files {d.validation_source}, {d.validation_target}"])
    split.exact_label = f" (pair {pairs})"
    return split


def language_model_split(spec, data_dir) -> Split:
    """Lines with >= LM_MIN_WORDS words: the validation file, or the last fraction of the lines."""
    d = spec.data

    def lines(name):
        return [line.decode("utf-8") for line in text_lines(resolve_corpus(name, data_dir)).as_numpy_iterator()]

    def words(line):
        if d.level == "char" and d.tokenizer == "whitespace":  # PTB char: symbols, "_" between words
            return [w for w in "".join(line.split()).split("_") if w]
        return line.split()

    train, validation, how = held_out(lines, d, "lines")
    long_lines = [normalize(line) for line in validation if len(words(line)) >= LM_MIN_WORDS]
    counted = f"{len(long_lines):,} of {len(validation):,} validation lines have >= {LM_MIN_WORDS} words"
    return Split([normalize(line) for line in train], long_lines, contained=False, near=False, notes=[how, counted])


READERS = {"classification": classification_split, "tagging": tagging_split,
           "translation": translation_split, "language_model": language_model_split}


# --- token streams and hashing ---------------------------------------------------------

@dataclasses.dataclass
class Corpus:
    """Examples as one stream of token ids (uint64, >= 1) with each example's start and length."""

    ids: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray

    @property
    def ends(self) -> np.ndarray:
        return self.starts + self.lengths

    def example_of(self) -> np.ndarray:
        """int64[N]: the example each stream position belongs to."""
        return np.repeat(np.arange(len(self.lengths)), self.lengths)


def encode(examples: list[list[str]], vocabulary: dict[str, int]) -> Corpus:
    """Token lists → `Corpus`; new tokens are added to `vocabulary`."""
    lengths = np.array([len(e) for e in examples], np.int64)
    ids = np.fromiter((vocabulary.setdefault(t, len(vocabulary) + 1) for e in examples for t in e),
                      np.uint64, count=int(lengths.sum()))
    return Corpus(ids, np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64), lengths)


def window_hashes(corpus: Corpus, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(hash uint64[N], valid bool[N]): the rolling hash of the n tokens from each position,
    valid where those n tokens lie inside one example."""
    hashes = corpus.ids.copy()
    for k in range(1, n):
        hashes[:-k] = hashes[:-k] * BASE + corpus.ids[k:]
    valid = np.arange(len(corpus.ids)) + n <= np.repeat(corpus.ends, corpus.lengths)
    return hashes, valid


# --- the three checks -------------------------------------------------------------------

def exact_duplicates(train: list[list[str]], validation: list[list[str]]) -> np.ndarray:
    """bool[V]: the validation text equals a training text."""
    texts = {" ".join(e) for e in train}
    return np.array([" ".join(e) in texts for e in validation], bool)


def contained_in_train(train: Corpus, validation: Corpus, skip: np.ndarray) -> np.ndarray:
    """bool[V]: the validation tokens occur contiguously inside a longer training example
    (examples where `skip` is set are not searched)."""
    found = np.zeros(len(validation.lengths), bool)
    anchors = np.minimum(validation.lengths, ANCHOR)
    train_lengths = np.repeat(train.lengths, train.lengths)
    train_ends = np.repeat(train.ends, train.lengths)
    for a in np.unique(anchors[(~skip) & (validation.lengths > 0)]):
        wanted = np.nonzero((anchors == a) & ~skip & (validation.lengths > 0))[0]
        val_hashes = window_hashes(validation, int(a))[0][validation.starts[wanted]]
        by_hash: dict[int, list[int]] = {}
        for v, h in zip(wanted, val_hashes.tolist()):
            by_hash.setdefault(h, []).append(int(v))
        hashes, valid = window_hashes(train, int(a))
        hits = np.nonzero(valid & (train_lengths > a) & np.isin(hashes, val_hashes))[0]
        for position, h in zip(hits.tolist(), hashes[hits].tolist()):
            for v in by_hash[h]:
                length, start = validation.lengths[v], validation.starts[v]
                if (not found[v] and train_lengths[position] > length and position + length <= train_ends[position]
                        and np.array_equal(train.ids[position:position + length],
                                           validation.ids[start:start + length])):
                    found[v] = True
    return found


def shingle_sets(corpus: Corpus) -> list[np.ndarray]:
    """Each example's distinct SHINGLE-token shingle hashes, sorted (empty under SHINGLE tokens)."""
    hashes, _ = window_hashes(corpus, SHINGLE)
    return [np.unique(hashes[s:s + max(n - SHINGLE + 1, 0)]) for s, n in zip(corpus.starts, corpus.lengths)]


def prefixes(sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, owner): the prefix-filter tokens of every set, its |S| - ceil(J·|S|) + 1 smallest
    hashes: two sets with Jaccard >= J share at least one of them."""
    parts = [s[:len(s) - math.ceil(JACCARD * len(s) - 1e-9) + 1] for s in sets]
    owners = np.repeat(np.arange(len(sets)), [len(p) for p in parts])
    return (np.concatenate(parts) if parts else np.zeros(0, np.uint64)), owners


def near_duplicates(train: Corpus, validation: Corpus, skip: np.ndarray) -> np.ndarray:
    """bool[V]: Jaccard of 5-gram shingle sets >= JACCARD with some training example."""
    train_sets, val_sets = shingle_sets(train), shingle_sets(validation)
    val_hashes, val_owner = prefixes(val_sets)
    train_hashes, train_owner = prefixes(train_sets)
    order = np.argsort(val_hashes, kind="stable")
    val_hashes, val_owner = val_hashes[order], val_owner[order]
    low = np.searchsorted(val_hashes, train_hashes, "left")
    counts = np.searchsorted(val_hashes, train_hashes, "right") - low
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    t = np.repeat(train_owner, counts)
    v = val_owner[np.repeat(low, counts) + offsets]
    pairs = np.unique(t * len(val_sets) + v)
    t, v = pairs // len(val_sets), pairs % len(val_sets)
    t_size = np.array([len(s) for s in train_sets])[t]
    v_size = np.array([len(s) for s in val_sets])[v]
    keep = ~skip[v] & (np.minimum(t_size, v_size) >= JACCARD * np.maximum(t_size, v_size))
    found = np.zeros(len(val_sets), bool)
    for ti, vi in zip(t[keep].tolist(), v[keep].tolist()):
        if not found[vi]:
            shared = np.intersect1d(train_sets[ti], val_sets[vi], assume_unique=True).size
            found[vi] = shared >= JACCARD * (len(train_sets[ti]) + len(val_sets[vi]) - shared)
    return found


@dataclasses.dataclass
class Row:
    """One table row."""

    name: str
    examples: str
    exact: str = "n/a"
    contained: str = "n/a"
    near: str = "n/a"
    share: str = "n/a"
    notes: list[str] = dataclasses.field(default_factory=list)


def audit(name: str, split: Split) -> Row:
    """Counts of one split: exact, then contained, then near-duplicate (disjoint)."""
    exact = exact_duplicates(split.train, split.validation)
    vocabulary: dict[str, int] = {}
    train, validation = encode(split.train, vocabulary), encode(split.validation, vocabulary)
    contained = contained_in_train(train, validation, exact) if split.contained else np.zeros_like(exact)
    near = near_duplicates(train, validation, exact | contained) if split.near else np.zeros_like(exact)
    total = len(split.validation)
    leaked = int(exact.sum() + contained.sum() + near.sum())
    return Row(name, f"{total:,}", f"{int(exact.sum()):,}{split.exact_label}",
               f"{int(contained.sum()):,}" if split.contained else "—",
               f"{int(near.sum()):,}" if split.near else "—",
               f"{100 * leaked / max(total, 1):.1f}", split.notes)


def audit_pipeline(name: str, data_dir) -> Row:
    """Load the spec (or variant) `name`, read its split and audit it."""
    stem, overrides = VARIANTS.get(name, (name, None))
    spec = load_spec(PIPELINES / f"{stem}.toml", overrides)
    if spec.application in NO_TEXT_SPLIT:
        return Row(name, "n/a", notes=[NO_TEXT_SPLIT[spec.application]])
    return audit(name, READERS[spec.application](spec, data_dir))


def print_table(rows: list[Row]) -> None:
    """The table, the notes per pipeline, and the definitions (from the module docstring)."""
    header = ("pipeline", "validation examples", "exact duplicates in train", "contained in a train example",
              "near-duplicates", "leaked share %")
    cells = [header] + [(r.name, r.examples, r.exact, r.contained, r.near, r.share) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    for i, line in enumerate(cells):
        print(" | ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(line, widths))))
        if i == 0:
            print("-+-".join("-" * w for w in widths))
    print("\nNotes:")
    for r in rows:
        print(f"  {r.name}: {'; '.join(r.notes)}")
    print("\nDefinitions:" + __doc__.split("Definitions:")[1].split("Reproduce")[0].rstrip())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="the data directory (default: $SEQKERAS_DATA)")
    parser.add_argument("--pipelines", default="", help="comma-separated names (default: every spec + variants)")
    args = parser.parse_args(argv)
    names = ([n.strip() for n in args.pipelines.split(",") if n.strip()] or
             sorted([p.stem for p in PIPELINES.glob("*.toml")] + list(VARIANTS)))
    started, rows = time.perf_counter(), []
    for name in names:
        t0 = time.perf_counter()
        rows.append(audit_pipeline(name, args.data_dir))
        print(f"  {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    print_table(rows)
    print(f"\nwall time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
