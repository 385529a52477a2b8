"""`seqkeras weat TARGET`: bias in word vectors — WEAT effect sizes and the analogy probe.

TARGET is a word2vec text or binary file (``.gz`` read through; gensim's
``KeyedVectors.save_word2vec_format`` writes one), a run directory holding
``vectors.txt`` / ``vectors.bin``, or a word2vec pipeline spec (``.toml``: its
``evaluation.vectors_text`` file when written, else its trained weights). Prints the
WEAT table (Caliskan et al. 2017; skipped tests say why) and the he:she :: occupation:?
completions (`seqkeras.word2vec.bias`).
"""

from __future__ import annotations

import pathlib

from seqkeras.pipeline.commands.common import print_json

VECTOR_FILES = ("vectors.txt", "vectors.txt.gz", "vectors.bin", "vectors.bin.gz")


def configure(parser):
    parser.add_argument("target", help="word2vec vectors file, run directory, or word2vec pipeline .toml")
    parser.add_argument("--min-words", type=int, default=5,
                        help="skip a WEAT test unless each of its lists keeps this many in-vocabulary words")
    parser.add_argument("--samples", type=int, default=10_000,
                        help="random partitions for a p-value when there are over a million partitions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--topn", type=int, default=5, help="completions listed per occupation")
    parser.add_argument("--occupation", action="append", default=None,
                        help="occupation word for the analogy probe (repeatable; default: the shipped list)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--work-dir", default="runs")


def load_vectors(target: str, data_dir=None, work_dir="runs"):
    """The `WordVectors` TARGET names (see the module docstring)."""
    from seqkeras.word2vec.vectors import load_word2vec_format

    path = pathlib.Path(target)
    if path.is_dir():
        found = next((path / name for name in VECTOR_FILES if (path / name).is_file()), None)
        if found is None:
            raise SystemExit(f"error: {path} holds none of {', '.join(VECTOR_FILES)}")
        return load_word2vec_format(found)
    if path.suffix != ".toml":
        return load_word2vec_format(path)
    from seqkeras.pipeline import registry, runner
    from seqkeras.pipeline.run_paths import RunPaths
    from seqkeras.word2vec.application import word_vectors

    spec = registry.load_spec(path)
    if spec.application != "word2vec":
        raise SystemExit(f"error: {path} is a {spec.application!r} pipeline; WEAT reads word2vec vectors")
    if spec.evaluation.vectors_text and pathlib.Path(spec.evaluation.vectors_text).is_file():
        return load_word2vec_format(spec.evaluation.vectors_text)
    paths = RunPaths.for_spec(spec, work_dir)
    spec = runner.apply_best_hyperparameters(spec, paths)
    data = runner.build_data(spec, data_dir, paths)
    return word_vectors(runner.load_trained(spec, data, paths), data)


def main(args):
    import dataclasses

    from seqkeras.word2vec.bias import analogy_probe, probe_table, weat_table, weat_tests

    wv = load_vectors(args.target, args.data_dir, args.work_dir)
    results = weat_tests(wv, min_words=args.min_words, samples=args.samples, seed=args.seed)
    probe = analogy_probe(wv, args.occupation, topn=args.topn)
    if args.json:
        print_json({"vectors": args.target, "words": len(wv), "weat": [dataclasses.asdict(r) for r in results],
                    "analogy_probe": probe})
        return 0
    print(f"{args.target}: {len(wv):,} words × {wv.vectors.shape[1]} dimensions\n")
    print(weat_table(results) + "\n")
    skipped = [r.id for r in results if r.skipped]
    print(f"skipped for coverage (< {args.min_words} in-vocabulary words in a list): "
          f"{', '.join(skipped) if skipped else 'none'}\n")
    print(probe_table(probe))
    return 0
