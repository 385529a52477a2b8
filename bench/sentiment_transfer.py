"""SST-2 with and without supervised transfer from IMDB: the same seeds, in one run.

On SST's clean validation sentences (1,000 whole held-out sentences, DATA.md):

* the simple baseline: a bag of words and word pairs (TF-IDF, logistic regression,
  scikit-learn) trained on the same SST phrases;
* zero-shot: the IMDB classifier of ``pipelines/imdb_transfer_source.toml`` as copied
  into the SST classifier, before any SST training: what IMDB's labels alone teach
  about SST's sentences (its softmax comes along: both are negative/positive);
* per seed, ``pipelines/sst2_sentiment.toml`` from scratch (the anchor) and
  ``pipelines/sst2_transfer.toml`` (every weight from that IMDB classifier, then
  fine-tuned on SST's phrases), each trained through `seqkeras.pipeline.runner.run`.

Reproduce (train the source first: ≈ 15 min on a 2-core CPU; then ≈ 70 s per run):

    seqkeras run pipelines/imdb_transfer_source.toml --data-dir ../shared/data --no-export
    python bench/sentiment_transfer.py --data-dir ../shared/data --seeds 0 1 2
    python bench/sentiment_transfer.py --data-dir ../shared/data --transfer-set training.learning_rate=1e-3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scratch", default="pipelines/sst2_sentiment.toml")
    parser.add_argument("--transfer", default="pipelines/sst2_transfer.toml")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--work-dir", default="runs", help="where the source's run directory is; the "
                        "bench's own runs go there too, named bench_transfer_*")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a spec override (TOML value) for both pipelines, e.g. training.epochs=3")
    parser.add_argument("--transfer-set", action="append", default=[], metavar="KEY=VALUE",
                        help="an override for sst2_transfer (and the zero-shot copy) only")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import keras

    from harness import markdown_table, versions
    from seqkeras.pipeline import load_spec, runner
    from seqkeras.pipeline.commands.common import parse_overrides
    from seqkeras.pipeline.run_paths import RunPaths
    from seqkeras.pipeline.spec import with_overrides

    def spec_for(path, seed):
        spec = load_spec(path, parse_overrides(args.set + (args.transfer_set if path == args.transfer else [])))
        return with_overrides(spec, {"name": f"bench_transfer_{spec.name}_s{seed}", "training.seed": seed,
                                     "export.enabled": False})

    def fresh_paths(spec):
        paths = RunPaths.for_spec(spec, args.work_dir)
        shutil.rmtree(paths.root, ignore_errors=True)
        return paths

    rows, results = [bag_of_words_row(load_spec(args.scratch), args.data_dir)], {"versions": versions([]), "overrides": args.set, "transfer_overrides": args.transfer_set,
                   "seeds": args.seeds, "runs": {}}

    spec = spec_for(args.transfer, args.seeds[0])
    start = time.perf_counter()
    data = runner.build_data(spec, args.data_dir, fresh_paths(spec))
    keras.utils.set_random_seed(spec.training.seed)
    model = runner.application(spec).make_model(spec, data)
    zero_shot = runner.evaluate(spec, model, data)
    results["zero_shot"] = {**zero_shot, "seconds": round(time.perf_counter() - start, 1),
                            "shared_words": data.pretrained_words}
    rows.append(["IMDB classifier, no SST training (zero-shot)", f"{100 * zero_shot['accuracy']:.2f}",
                 "", "", "", "", "—"])

    for label, path in (("from scratch (sst2_sentiment)", args.scratch),
                        ("IMDB classifier, fine-tuned (sst2_transfer)", args.transfer)):
        accuracies, seconds = [], []
        for seed in args.seeds:
            spec = spec_for(path, seed)
            fresh_paths(spec)
            report = runner.run(spec, args.data_dir, work_dir=args.work_dir, export_model=False, verbose=0)
            accuracies.append(100 * report["validation"]["accuracy"])
            seconds.append(report["train_seconds"])
            print(f"{label}, seed {seed}: {accuracies[-1]:.2f} % ({seconds[-1]:.0f} s)", file=sys.stderr)
        results["runs"][label] = {"accuracy": accuracies, "train_seconds": seconds}
        spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        rows.append([label, f"{statistics.mean(accuracies):.2f}", f"{spread:.2f}",
                     " / ".join(f"{a:.2f}" for a in accuracies), f"{min(accuracies):.2f}", f"{max(accuracies):.2f}",
                     f"{statistics.mean(seconds):.0f}"])

    print(f"\nSST-2 clean validation ({zero_shot['examples']} sentences), seeds {args.seeds}"
          + (f", overrides {args.set}" if args.set else "")
          + (f", sst2_transfer overrides {args.transfer_set}" if args.transfer_set else "") + "\n")
    print(markdown_table(["classifier", "accuracy % (mean)", "sd", "per seed", "min", "max", "train s"], rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)


def bag_of_words_row(spec, data_dir) -> list[str]:
    """TF-IDF over the words and word pairs of the tokenized SST text (its tokens split
    on spaces), L2-regularised logistic regression with scikit-learn's default C."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from seqkeras.classification import read_labelled
    from seqkeras.data.paths import resolve_path

    d = spec.data
    start = time.perf_counter()
    (train, train_labels), (validation, validation_labels) = (
        read_labelled(resolve_path(path, data_dir), d.format, d.text_column, d.label_column)
        for path in (d.train, d.validation))
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", lowercase=d.lowercase, sublinear_tf=True)
    features = vectorizer.fit_transform(text.decode() for text in train)
    classifier = LogisticRegression(max_iter=2000).fit(features, train_labels.astype(str))
    predicted = classifier.predict(vectorizer.transform(text.decode() for text in validation))
    accuracy = 100 * float((predicted == validation_labels.astype(str)).mean())
    return ["bag of words and pairs, logistic regression (scikit-learn)", f"{accuracy:.2f}", "", "", "", "",
            f"{time.perf_counter() - start:.0f}"]


if __name__ == "__main__":
    main()
