"""Training throughput of the PTB small language model: seqkeras vs a plain Keras model.

Both train on the same PTB windows (batch B, BPTT 35, SGD with global-norm clipping)
in the same process; throughput = tokens per second of `model.fit` after a warm-up
(tracing/compilation excluded). The plain model is ``Embedding → 2 × keras.layers.LSTM(200)
→ Dense(10000)`` with a full float32 softmax; the seqkeras configurations are the
issue's levers: seqkeras cells on the fast `Recurrent` path, a bfloat16 output layer,
tied embeddings, a sampled training softmax (evaluation stays exact).

    python bench/language_model.py --data-dir ../shared/data [--batch-size 20 64] [--steps 60]
    python bench/language_model.py --data-dir ../shared/data --batch-size 20 --quality-epochs 1

``--quality-epochs N`` also trains every configuration for N whole epochs of the same
schedule (Zaremba's SGD, learning rate 1 on the loss summed over the window, clipping
5) from the same seed and reports the whole-stream validation perplexity next to its
speed: "faster at equal or better perplexity" compared at equal training tokens. The
13-epoch figures come from ``seqkeras run pipelines/ptb_word_lm.toml``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from seqkeras.language_model import build_language_model  # noqa: E402

UNITS, LAYERS, BPTT = 200, 2, 35


def plain_keras_model(vocabulary_size: int, batch_size: int) -> keras.Model:
    inputs = keras.Input(batch_shape=(batch_size, None), dtype="int32")
    x = keras.layers.Embedding(vocabulary_size, UNITS)(inputs)
    for _ in range(LAYERS):
        x = keras.layers.LSTM(UNITS, return_sequences=True, stateful=True)(x)
    return keras.Model(inputs, keras.layers.Dense(vocabulary_size)(x), name="plain_keras")


CONFIGS = {
    "plain keras (float32 softmax)": lambda v, b: plain_keras_model(v, b),
    "seqkeras LSTM": lambda v, b: build_language_model(v, b, "lstm", layers=LAYERS, units=UNITS),
    "seqkeras LSTM + bf16 softmax": lambda v, b: build_language_model(
        v, b, "lstm", layers=LAYERS, units=UNITS, softmax_precision="bfloat16"),
    "seqkeras LSTM + tied": lambda v, b: build_language_model(
        v, b, "lstm", layers=LAYERS, units=UNITS, tie_embeddings=True),
    "seqkeras LSTM + tied + sampled softmax (1024)": lambda v, b: build_language_model(
        v, b, "lstm", layers=LAYERS, units=UNITS, tie_embeddings=True, sampled_softmax=1024),
}


def compile_zaremba(model: keras.Model) -> None:
    """SGD with learning rate 1 and clipping 5 on the loss summed over the BPTT window
    (Keras's loss is the per-token mean, hence the factors of T)."""
    model.compile(keras.optimizers.SGD(1.0 * BPTT, global_clipnorm=5.0 / BPTT),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))


def throughput(model: keras.Model, windows: tf.data.Dataset, steps: int, batch_size: int) -> float:
    compile_zaremba(model)
    model.fit(windows.take(5), epochs=1, verbose=0)            # trace / compile
    start = time.perf_counter()
    model.fit(windows.take(steps), epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    return steps * batch_size * BPTT / seconds


def validation_perplexity(model: keras.Model, data, windows: tf.data.Dataset, epochs: int,
                          batch_size: int) -> tuple[float, float]:
    """Train `model` for `epochs` whole epochs of `windows` (state reset each epoch);
    returns (whole-stream validation perplexity, training seconds)."""
    from seqkeras.language_model.data import stream_windows
    from seqkeras.language_model.metrics import stream_nll, summarize
    from seqkeras.language_model.model import ResetStates

    compile_zaremba(model)
    start = time.perf_counter()
    model.fit(windows, epochs=epochs, verbose=0, callbacks=[ResetStates()])
    seconds = time.perf_counter() - start
    total, count = stream_nll(model, stream_windows(data.validation_ids, batch_size, BPTT))
    return summarize(total, count, "word")["perplexity"], seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--batch-size", type=int, nargs="+", default=[20, 64])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--configs", nargs="*", default=None, help="subset of the configuration names")
    parser.add_argument("--quality-epochs", type=int, default=0,
                        help="also train each configuration this many epochs and report validation perplexity")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)

    from seqkeras.language_model import Spec, build_data
    from seqkeras.pipeline.spec import with_overrides

    spec = with_overrides(Spec(), {"data.train": "ptb/ptb.train.txt.gz", "data.validation": "ptb/ptb.valid.txt",
                                   "data.level": "word", "data.tokenizer": "whitespace", "data.newline": "eos",
                                   "training.bptt_length": BPTT})
    results = []
    for batch_size in args.batch_size:
        data = build_data(with_overrides(spec, {"training.batch_size": batch_size}), args.data_dir)
        vocabulary_size = data.vocabulary_size
        train = data.train.cache()
        for name, make in CONFIGS.items():
            if args.configs and name not in args.configs:
                continue
            keras.utils.set_random_seed(0)
            model = make(vocabulary_size, batch_size)
            speed = throughput(model, train, args.steps, batch_size)
            row = {"config": name, "batch_size": batch_size, "tokens_per_second": round(speed)}
            if args.quality_epochs:
                keras.utils.set_random_seed(0)
                model = make(vocabulary_size, batch_size)
                row["validation_perplexity"], row["train_seconds"] = validation_perplexity(
                    model, data, train, args.quality_epochs, batch_size)
            results.append(row)
            print(f"batch {batch_size:3d}  {name:40s} {speed:9.0f} tokens/s  "
                  f"val ppl {row.get('validation_perplexity', float('nan')):.1f}", flush=True)
    quality = f" | val ppl after {args.quality_epochs} epoch(s) | train s" if args.quality_epochs else ""
    print(f"\n| configuration | batch | tokens/s | × plain{quality} |\n|---|---|---|---|"
          + ("---|---|" if quality else ""))
    for row in results:
        base = next(r["tokens_per_second"] for r in results
                    if r["batch_size"] == row["batch_size"] and r["config"].startswith("plain"))
        cells = [row["config"], row["batch_size"], row["tokens_per_second"], f"{row['tokens_per_second'] / base:.2f}"]
        if quality:
            cells += [f"{row['validation_perplexity']:.1f}", f"{row['train_seconds']:.0f}"]
        print("| " + " | ".join(map(str, cells)) + " |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
