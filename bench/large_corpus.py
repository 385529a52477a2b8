"""A word-level language model on a corpus larger than memory: ingest, vocabulary,
a few hundred training steps, with the peak resident memory of the process.

    python bench/large_corpus.py --data-dir ../shared/data --size-gb 2.0 --steps 300

1. Writes a ≥ `--size-gb` text file into `--scratch` (not the repository): the lines of
   PTB train and of the IMDB train reviews (lowercased, ``<br />`` removed), shuffled
   afresh on every repetition, repeated until the size is reached.
2. In a child process (so its peak RSS is its own): `runner.build_data` streams the file
   twice (vocabulary, then the id file of `seqkeras.data.id_file`), the training windows
   are read back without a model (input pipeline tokens/s), then `runner.train` runs
   `--steps` steps of a 1-layer LSTM. The child reports its peak RSS (VmHWM) after each
   phase; the parent reports the child's peak (ru_maxrss).

The issue's bar: peak RSS ≤ 3 GB. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import pathlib
import random
import re
import resource
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from harness import markdown_table, versions  # noqa: E402

from seqkeras.quiet import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

SPEC = """
application = "language_model"
name = "large_corpus_lm"
[data]
train = "{corpus}"
validation = "ptb/ptb.valid.txt"
level = "word"
tokenizer = "whitespace"
newline = "eos"
lowercase = true
max_vocabulary = 30000
train_ids = "auto"
[model]
cell = "lstm"
layers = 1
units = 200
tie_embeddings = true
[training]
optimizer = "adam"
learning_rate = 0.002
epochs = 1
batch_size = 20
bptt_length = 35
steps_per_epoch = {steps}
validation_steps = 20
"""


def source_lines(data_dir: pathlib.Path) -> list[str]:
    """PTB train lines and IMDB train reviews (one line each, ``<br />`` removed, lowercased)."""
    with gzip.open(data_dir / "ptb" / "ptb.train.txt.gz", "rt", encoding="utf-8") as stream:
        lines = [line.strip() for line in stream if line.strip()]
    with gzip.open(data_dir / "imdb" / "train.csv.gz", "rt", encoding="utf-8", newline="") as stream:
        lines += [re.sub(r"<br\s*/?>", " ", row["text"]).lower().strip() for row in csv.DictReader(stream)]
    return lines


def write_corpus(lines: list[str], path: pathlib.Path, size_bytes: int, seed: int = 0) -> int:
    """Repeat `lines`, shuffled afresh each time, into `path` until it holds `size_bytes`."""
    rng = random.Random(seed)
    written = 0
    with open(path, "w", encoding="utf-8") as stream:
        while written < size_bytes:
            rng.shuffle(lines)
            block = "\n".join(lines) + "\n"
            stream.write(block)
            written += len(block.encode("utf-8"))
    return written


def peak_rss_mib() -> float:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(spec_path: str, data_dir: str, work: str, read_windows: int) -> None:
    """Ingest, read windows, train; print one JSON line of figures."""
    from seqkeras.pipeline import load_spec, runner

    figures = {}
    spec = load_spec(spec_path)
    paths = runner.RunPaths.for_spec(spec, work)
    started = time.perf_counter()
    data = runner.build_data(spec, data_dir, paths)
    figures["ingest_s"] = time.perf_counter() - started
    figures["train_tokens"] = data.train_tokens
    figures["vocabulary"] = data.vocabulary_size
    figures["rss_after_ingest_mib"] = peak_rss_mib()
    started, tokens = time.perf_counter(), 0
    for inputs, _ in data.train.take(read_windows):
        tokens += int(inputs.shape[0] * inputs.shape[1])
    figures["reader_tokens_per_s"] = tokens / (time.perf_counter() - started)
    started = time.perf_counter()
    _, history = runner.train(spec, data, paths, verbose=0)
    figures["train_s"] = time.perf_counter() - started
    figures["train_steps"] = spec.training.steps_per_epoch
    figures["val_perplexity"] = float(history.get("val_perplexity", [float("nan")])[-1]) \
        if "val_perplexity" in history else None
    figures["history_keys"] = sorted(history)
    figures["rss_after_train_mib"] = peak_rss_mib()
    print("FIGURES " + json.dumps(figures))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--read-windows", type=int, default=2000)
    parser.add_argument("--scratch", default="/tmp/seqkeras_large_corpus")
    parser.add_argument("--child", nargs=2, metavar=("SPEC", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.data_dir, args.child[1], args.read_windows)

    scratch = pathlib.Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    corpus = scratch / f"corpus_{args.size_gb:g}gb.txt"
    size = int(args.size_gb * 2**30)
    started = time.perf_counter()
    if not corpus.is_file() or corpus.stat().st_size < size:
        write_corpus(source_lines(pathlib.Path(args.data_dir)), corpus, size)
    write_seconds = time.perf_counter() - started
    spec = scratch / "large_corpus_lm.toml"
    spec.write_text(SPEC.format(corpus=corpus, steps=args.steps))
    work = scratch / "runs"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--data-dir", args.data_dir, "--read-windows",
                           str(args.read_windows), "--child", str(spec), str(work)],
                          capture_output=True, text=True)
    child_seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the child failed:\n{done.stderr[-4000:]}")
    figures = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("FIGURES "))[8:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    gib = corpus.stat().st_size / 2**30
    print(f"# A corpus larger than memory: {gib:.2f} GiB, {figures['train_tokens']:,} training tokens\n")
    print(json.dumps(versions([])))
    rows = [
        ["write the corpus (scratch)", f"{write_seconds:.0f}", ""],
        ["ingest: vocabulary pass + id-file pass", f"{figures['ingest_s']:.0f}",
         f"{2 * figures['train_tokens'] / figures['ingest_s']:,.0f} tokens/s (2 passes)"],
        [f"read {args.read_windows} training windows (no model)", "",
         f"{figures['reader_tokens_per_s']:,.0f} tokens/s"],
        [f"train {figures['train_steps']} steps + validation", f"{figures['train_s']:.0f}",
         f"{figures['train_steps'] * 20 * 35 / figures['train_s']:,.0f} tokens/s"],
        ["peak RSS after ingest", "", f"{figures['rss_after_ingest_mib']:,.0f} MiB"],
        ["peak RSS of the whole child (ru_maxrss)", f"{child_seconds:.0f}", f"{peak:,.0f} MiB (bar: 3072 MiB)"],
    ]
    print(markdown_table(["phase", "wall s", "figure"], rows))
    print(f"\nvocabulary {figures['vocabulary']:,}; history {figures['history_keys']}")
    (scratch / "figures.json").write_text(json.dumps({**figures, "peak_rss_mib": peak, "corpus_gib": gib,
                                                             "write_s": write_seconds}, indent=1))


if __name__ == "__main__":
    main()
