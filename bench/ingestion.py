"""Ingestion benchmark: tokens/s and MB/s of every builder on the real corpora.

Prints one table row per pipeline, run end to end (read → tokenize → look up →
batch): "setup" is building the dataset (the validation pass over the files; for
the LM, the pass counting the ids), "epoch" one steady-state pass (after an
untimed warm-up pass; the tagging builder caches its parsed sentences and shows
epoch 1 and epoch 2 separately). Vocabularies are built beforehand (not timed). Compared in
the same run with

* a plain-Python baseline (read, lower, split, dict lookup, list batches);
* `keras.layers.TextVectorization` with its default standardization on the same
  ~50 MB of text (same batches of lines, ragged vs ragged and padded vs padded),
  and the raw `tf.data.TextLineDataset` read limit; each ratio in wall time
  (throughput) and in the process's CPU seconds (the work, which other load on the
  machine changes much less);
* the PTB-small model's token consumption during training (`PTB_SMALL_TOKENS_PER_S`).

Usage: ``python bench/ingestion.py [--data-dir ../shared/data] [--megabytes 50]``.
This is a benchmark, not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import gzip
import os
import pathlib
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seqkeras import data  # noqa: E402

# Training-step token consumption of the PTB-small LSTM (Zaremba et al.: 2×200 units,
# B=20, T=35) measured by the foundation benchmark on this CPU: about 7,000 tokens/s.
# The pipeline must deliver at least TARGET_MARGIN times this so training is never
# input-bound.
PTB_SMALL_TOKENS_PER_S = 7_000
TARGET_MARGIN = 10
# Word tokenization + lookup + batching vs TextVectorization. The anchor for it is a
# whitespace split and a static table (no standardization): WordTokenizer() as is.
TEXT_VECTORIZATION_TARGET = 1.5
BATCH = 1024


def unpacked_size(path: pathlib.Path) -> int:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return sum(len(chunk) for chunk in iter(lambda: f.read(1 << 20), b""))


def epoch_of(dataset: tf.data.Dataset, count_tokens):
    """A function running one epoch of `dataset` and returning the tokens it delivered
    (`count_tokens` of each element; tuples are passed whole)."""
    counts = dataset.map(lambda *e: tf.cast(count_tokens(e if len(e) > 1 else e[0]), tf.int64))
    return lambda: int(counts.reduce(tf.constant(0, tf.int64), lambda total, n: total + n))


def timed(dataset: tf.data.Dataset, count_tokens, repeats: int = 3) -> tuple[float, int]:
    """Seconds for one steady-state epoch of `dataset` and the tokens it delivered.

    A first, untimed epoch traces the tf.data functions and warms the OS file cache;
    the median of the next `repeats` epochs is what every later training epoch costs
    (one epoch alone varied by ±20 % from run to run on a 2-core machine).
    """
    epoch = epoch_of(dataset, count_tokens)
    epoch()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        tokens = epoch()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), tokens


def interleaved(datasets: dict, count_tokens, rounds: int = 5) -> dict:
    """Per-round epoch seconds of several datasets timed in turn, after one untimed
    warm-up epoch each: ``{name: ([wall seconds per round], [CPU seconds per round], tokens)}``.

    CPU seconds are the whole process's (all tf.data threads): the work an epoch
    costs, which other load on the machine changes much less than the wall time.
    """
    epochs = {name: epoch_of(dataset, count_tokens) for name, dataset in datasets.items()}
    tokens = {name: epoch() for name, epoch in epochs.items()}
    wall = {name: [] for name in datasets}
    cpu = {name: [] for name in datasets}
    for _ in range(rounds):
        for name, epoch in epochs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            epoch()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: (wall[name], cpu[name], tokens[name]) for name in datasets}


def timed_epochs(dataset: tf.data.Dataset, count_tokens, epochs: int) -> list[tuple[float, int]]:
    """(seconds, tokens) of each of the first `epochs` epochs (no warm-up: epoch 1
    includes tracing and, for a cached dataset, filling the cache)."""
    epoch = epoch_of(dataset, count_tokens)
    out = []
    for _ in range(epochs):
        start = time.perf_counter()
        tokens = epoch()
        out.append((time.perf_counter() - start, tokens))
    return out


def nonzero(x) -> tf.Tensor:
    return tf.math.count_nonzero(x)


def count_ids(ids) -> tf.Tensor:
    """Non-padding ids of a dense or ragged batch."""
    return tf.math.count_nonzero(ids.flat_values if isinstance(ids, tf.RaggedTensor) else ids)


def row(name: str, seconds: float, tokens: int, nbytes: int, note: str = "", setup: float = 0.0) -> dict:
    return {"pipeline": name, "s": seconds, "setup": setup, "tokens/s": tokens / seconds, "MB/s": nbytes / seconds / 1e6,
            "× PTB-small": tokens / seconds / PTB_SMALL_TOKENS_PER_S, "note": note}


def bench_language_model(root: pathlib.Path) -> dict:
    path = root / "ptb" / "ptb.train.txt.gz"
    tokenizer = data.WordTokenizer(add_eos=True)
    tokenizer.adapt(data.text_lines(path), reserved=("<pad>", "<unk>", "<eos>"))
    start = time.perf_counter()
    windows = data.language_model_windows(data.token_stream(data.text_lines(path), tokenizer), 20, 35)
    setup = time.perf_counter() - start
    seconds, tokens = timed(windows, lambda xy: tf.size(xy[0]))
    return row("LM windows (PTB train, B=20 T=35)", seconds, tokens, unpacked_size(path),
               "streamed, B readers; setup = counting pass", setup)


def bench_classification(root: pathlib.Path) -> dict:
    path = root / "imdb" / "train.csv.gz"
    pairs = lambda: data.labelled_text(path, "text", "label", delimiter=",", quoting=True)
    tokenizer = data.WordTokenizer(lowercase=True)
    tokenizer.adapt(pairs().map(lambda text, label: text), max_size=20_000)
    start = time.perf_counter()
    batches = data.classification_batches(pairs(), tokenizer, 32, labels=["0", "1"], shuffle_buffer=1000, seed=1)
    setup = time.perf_counter() - start
    seconds, tokens = timed(batches, lambda xy: nonzero(xy[0]))
    return row("classification (IMDB train)", seconds, tokens, unpacked_size(path), "setup = CSV check pass", setup)


def bench_tagging(root: pathlib.Path) -> dict:
    path = root / "ud_en_ewt" / "en_ewt-ud-train.conllu.gz"
    sentences = lambda: data.conll_sentences(path, "conllu")
    words = data.Vocabulary.build(sentences().map(lambda s: s["tokens"]))
    chars = data.CharacterTokenizer().adapt(sentences().map(lambda s: tf.strings.reduce_join(s["tokens"])))
    tags = [t for t in data.Vocabulary.build(sentences().map(lambda s: s["tags"])).tokens[2:]]
    start = time.perf_counter()
    batches = data.tagging_batches(sentences(), words, tags, 32, char_vocabulary=chars, cache=True)
    setup = time.perf_counter() - start
    (first, tokens), (second, _) = timed_epochs(batches, lambda xy: nonzero(xy[0]["tokens"]), 2)
    nbytes = unpacked_size(path)
    return [row("tagging + chars (UD EWT train), epoch 1", first, tokens, nbytes,
                "parse CoNLL-U + fill cache (incl. tracing)", setup),
            row("tagging + chars (UD EWT train), epoch 2+", second, tokens, nbytes, "from cache (cache=True)")]


def bench_seq2seq(root: pathlib.Path) -> dict:
    en, de = root / "multi30k" / "train.en.gz", root / "multi30k" / "train.de.gz"
    source = data.WordTokenizer(lowercase=True)
    source.adapt(data.text_lines(en), min_count=2)
    target = data.WordTokenizer(lowercase=True)
    target.adapt(data.text_lines(de), min_count=2, reserved=("<pad>", "<unk>", "<bos>", "<eos>"))
    start = time.perf_counter()
    batches = data.seq2seq_batches(data.parallel_lines(en, de), source, target, 64, max_length=50,
                                   shuffle_buffer=1000, seed=1)
    setup = time.perf_counter() - start
    seconds, tokens = timed(batches, lambda xy: nonzero(xy[0][0]) + nonzero(xy[1]))
    return row("seq2seq (Multi30k en→de)", seconds, tokens, unpacked_size(en) + unpacked_size(de), "", setup)


def make_text(root: pathlib.Path, megabytes: int, out: pathlib.Path) -> int:
    """Write ~`megabytes` MB of real text (IMDB reviews, PTB, Multi30k) to `out`."""
    sources = [root / "imdb" / "train.csv.gz", root / "ptb" / "ptb.train.txt.gz", root / "multi30k" / "train.en.gz"]
    written = 0
    with open(out, "wb") as f:
        while written < megabytes * 1_000_000:
            for path in sources:
                with gzip.open(path, "rb") as src:
                    for line in src:
                        f.write(line)
                        written += len(line)
                        if written >= megabytes * 1_000_000:
                            return written
    return written


def bench_word_throughput(text: pathlib.Path, nbytes: int) -> list[dict]:
    tokenizer = data.WordTokenizer(lowercase=True)
    vocab = tokenizer.adapt(tf.data.TextLineDataset(str(text)).take(200_000), max_size=50_000)
    lines = lambda: tf.data.TextLineDataset(str(text), buffer_size=1 << 20).batch(BATCH)
    rows = []

    seconds, _ = timed(lines().prefetch(tf.data.AUTOTUNE), lambda b: tf.constant(0))
    rows.append(row("raw TextLineDataset read + batch", seconds, 0, nbytes, "read limit"))

    # Same lines (the same batches of BATCH lines), same output kind: ragged ids are
    # compared with TextVectorization(ragged=True), padded ids with its padded output.
    # The epochs of all pipelines are interleaved, round after round, and each ratio is
    # the median of its per-round ratios: a single epoch here varies by ±30 %, and load
    # that comes and goes would otherwise land on whichever pipeline ran then.
    stripping = data.WordTokenizer(vocab, lowercase=True, strip_punctuation=True)
    pretokenized = data.WordTokenizer(vocab)  # no standardization: PTB, SST-2, CoNLL, Multi30k as shipped
    candidates = {}
    for kind, ragged in (("ragged", True), ("padded", False)):
        vectorizer = keras.layers.TextVectorization(vocabulary=vocab.tokens[2:], ragged=ragged)
        candidates[f"TextVectorization default, {kind}"] = (vectorizer, kind, None)
    for name, kind, fn in [("lower", "ragged", tokenizer), ("lower", "padded", lambda b: tokenizer(b).to_tensor()),
                           ("as is", "ragged", pretokenized), ("as is", "padded", lambda b: pretokenized(b).to_tensor()),
                           ("lower+strip punct.", "ragged", stripping)]:
        candidates[f"WordTokenizer {name} + lookup, {kind}"] = (fn, kind, name)
    seconds = interleaved({label: lines().map(fn, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
                           for label, (fn, _, _) in candidates.items()}, count_ids)
    for label, (_, kind, name) in candidates.items():
        times, cpu, tokens = seconds[label]
        if name is None:
            rows.append(row(label, statistics.median(times), tokens, nbytes,
                            f"reference ({statistics.median(cpu):.2f} CPU s)"))
            continue
        reference, reference_cpu, _ = seconds[f"TextVectorization default, {kind}"]
        ratios = [r / t for r, t in zip(reference, times)]
        cpu_ratio = statistics.median(r / t for r, t in zip(reference_cpu, cpu))
        rows.append(row(label, statistics.median(times), tokens, nbytes,
                        f"{statistics.median(ratios):.2f}× TextVectorization {kind} "
                        f"(rounds {min(ratios):.2f}–{max(ratios):.2f}; CPU s {cpu_ratio:.2f}×)"
                        + {"as is": f" (pre-tokenized text; target ≥ {TEXT_VECTORIZATION_TARGET})", "lower": " (+ lower-casing)"}.get(
                            name, " (same standardization)")))

    ids = {t: i for i, t in enumerate(vocab.tokens)}
    start = time.perf_counter()
    tokens = 0
    with open(text, encoding="utf-8", errors="replace") as f:
        batch = []
        for line in f:
            batch.append([ids.get(w, 1) for w in line.lower().split()])
            if len(batch) == BATCH:
                width = max(map(len, batch))
                tokens += sum(map(len, batch))
                np.array([r + [0] * (width - len(r)) for r in batch])
                batch = []
    rows.append(row("plain Python (lower/split/dict/pad)", time.perf_counter() - start, tokens, nbytes, "baseline"))
    return rows


def print_table(rows: list[dict]) -> None:
    header = f"{'pipeline':48} {'setup s':>8} {'epoch s':>8} {'tokens/s':>12} {'MB/s':>8} {'×PTB-small':>11}  note"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['pipeline']:48} {r['setup']:8.2f} {r['s']:8.2f} {r['tokens/s']:12,.0f} {r['MB/s']:8.1f} "
              f"{r['× PTB-small']:11.0f}  {r['note']}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="corpora directory (default: $SEQKERAS_DATA, ../shared/data)")
    parser.add_argument("--megabytes", type=int, default=50, help="text size for the tokenizer comparison")
    args = parser.parse_args(argv)
    root = pathlib.Path(args.data_dir) if args.data_dir else (
        data.resolve_data_dir() if os.environ.get("SEQKERAS_DATA") else pathlib.Path("../shared/data"))
    rows = [bench_language_model(root), bench_classification(root), *bench_tagging(root), bench_seq2seq(root)]
    builders = [r for r in rows if not r["pipeline"].endswith("epoch 1")]  # steady state
    with tempfile.TemporaryDirectory() as tmp:
        text = pathlib.Path(tmp) / "text.txt"
        nbytes = make_text(root, args.megabytes, text)
        rows += bench_word_throughput(text, nbytes)
    print(f"\nPTB-small consumes {PTB_SMALL_TOKENS_PER_S:,} tokens/s in training; target ≥ "
          f"{TARGET_MARGIN}× = {TARGET_MARGIN * PTB_SMALL_TOKENS_PER_S:,} tokens/s.\n")
    print_table(rows)
    slowest = min(r["tokens/s"] for r in builders)
    print(f"\nslowest builder: {slowest / PTB_SMALL_TOKENS_PER_S:.0f}× PTB-small consumption "
          f"({'meets' if slowest >= TARGET_MARGIN * PTB_SMALL_TOKENS_PER_S else 'MISSES'} the {TARGET_MARGIN}× target)")


if __name__ == "__main__":
    main()
