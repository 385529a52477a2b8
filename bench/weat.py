"""Bias in word vectors: WEAT effect sizes and the he:she probe, seqkeras vs gensim, same corpus.

Both sides read the word2vec pipeline's corpus (default ``pipelines/imdb_word2vec.toml``),
standardized once by `seqkeras.word2vec.data.prepare_corpus` into one text file that
gensim reads with ``LineSentence``:

* seqkeras: the pipeline's skip-gram — its trained run (``evaluation.vectors_text`` or
  ``runs/<name>``) by default, or trained here on the prepared file with ``--train``
  (`seqkeras.word2vec.train.train`, the spec's settings);
* gensim: ``Word2Vec(sg=1)`` trained here with the spec's dim, window, negatives,
  sample, min_count and epochs (gensim's own learning rate, 0.025).

Then `seqkeras.word2vec.bias` scores both: the WEAT table (Caliskan et al. 2017; tests
without enough in-vocabulary words are skipped and listed) and the he:she ::
occupation:? completions, side by side.

Reproduce (IMDB train reviews, ≈ 6 M words; gensim ≈ 5–10 min on one core):

    python bench/weat.py --data-dir ../shared/data [--workers 2] [--train] [--json out.json]
    python bench/weat.py --data-dir ../shared/data --max-lines 2000      # a quick check
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="pipelines/imdb_word2vec.toml")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--work-dir", default="runs/bench_weat")
    parser.add_argument("--runs", default="runs", help="where the pipeline's run directory is")
    parser.add_argument("--train", action="store_true", help="train the seqkeras side here too")
    parser.add_argument("--max-lines", type=int, default=0,
                        help="only the first N corpus lines (0 = all); implies --train")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--min-words", type=int, default=5)
    parser.add_argument("--topn", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    from harness import markdown_table, versions
    from seqkeras.pipeline import registry
    from seqkeras.pipeline.commands.weat import load_vectors
    from seqkeras.word2vec import bias, data as w2v_data
    from seqkeras.word2vec.evaluation import WordVectors

    spec = registry.load_spec(args.pipeline)
    m, work = spec.model, pathlib.Path(args.work_dir).resolve()     # corpus_lines reads relative names from the data dir
    corpus = work / f"{spec.name}_corpus.txt"
    if not corpus.is_file():
        t0 = time.perf_counter()
        stats = w2v_data.prepare_corpus(spec.data.sources, corpus, data_dir=args.data_dir,
                                        standardize_mode=spec.data.standardize)
        print(f"prepared {corpus}: {stats} in {time.perf_counter() - t0:.0f}s", flush=True)
    if args.max_lines:
        small = work / f"{spec.name}_corpus_{args.max_lines}.txt"
        with open(corpus, encoding="utf-8") as src, open(small, "w", encoding="utf-8") as dst:
            for i, line in zip(range(args.max_lines), src):
                dst.write(line)
        corpus = small

    timings = {}
    t0 = time.perf_counter()
    gensim_model = Word2Vec(LineSentence(str(corpus)), sg=1, vector_size=m.dim, window=m.window,
                            negative=m.negatives, ns_exponent=m.ns_exponent, sample=m.sample,
                            min_count=spec.data.min_count, epochs=spec.training.epochs, workers=args.workers,
                            seed=spec.training.seed)
    timings["gensim_train_s"] = round(time.perf_counter() - t0, 1)
    theirs = WordVectors(list(gensim_model.wv.index_to_key), gensim_model.wv.vectors)

    t0 = time.perf_counter()
    if args.train or args.max_lines:
        from seqkeras.word2vec.application import sampling_config
        from seqkeras.word2vec.model import SkipGram
        from seqkeras.word2vec.train import train

        lines = w2v_data.corpus_lines(str(corpus))
        vocab, stats = w2v_data.build_vocabulary(lines, min_count=spec.data.min_count, standardize_mode="none",
                                                 source=str(corpus))
        model = SkipGram(len(vocab), m.dim, output_vectors=m.output, seed=spec.training.seed, window=m.window,
                         damping=m.damping)
        train(model, lines, vocab, stats, sampling_config(spec), epochs=spec.training.epochs,
              learning_rate=spec.training.learning_rate, min_learning_rate=spec.training.min_learning_rate,
              standardize_mode="none", verbose=0)
        skip = len(vocab.reserved)
        ours = WordVectors(vocab.tokens[skip:], model.vectors()[skip:])
        timings["seqkeras_train_s"] = round(time.perf_counter() - t0, 1)
        source = "trained here"
    else:
        ours = load_vectors(args.pipeline, args.data_dir, args.runs)
        source = "the pipeline's trained run"
    print(f"corpus {corpus}; seqkeras ({source}) {len(ours):,} words, gensim {len(theirs):,} words; {timings}\n",
          flush=True)

    report = {"versions": versions(["gensim"]), "corpus": str(corpus), "timings": timings, "sides": {}}
    results = {}
    for side, wv in (("seqkeras", ours), ("gensim", theirs)):
        results[side] = bias.weat_tests(wv, min_words=args.min_words, seed=spec.training.seed)
        probe = bias.analogy_probe(wv, topn=args.topn)
        report["sides"][side] = {"weat": [dataclasses.asdict(r) for r in results[side]], "analogy_probe": probe}
        skipped = [r.id for r in results[side] if r.skipped]
        print(f"## {side}\n\n{bias.weat_table(results[side])}\n\nskipped for coverage: "
              f"{', '.join(skipped) or 'none'}\n", flush=True)

    def effect(r):
        return "skipped" if r.skipped else f"{r.effect_size:+.2f} (p {bias.format_p(r)})"

    rows = [[f"{a.id}: {a.name}", effect(a), effect(b), "" if a.paper_d is None else f"{a.paper_d:.2f}"]
            for a, b in zip(results["seqkeras"], results["gensim"])]
    print("## side by side\n\n" + markdown_table(["test", "seqkeras d", "gensim d", "paper d (GloVe)"], rows))
    probes = [report["sides"][side]["analogy_probe"] for side in ("seqkeras", "gensim")]
    occupations = [o for o in probes[0]["completions"] if o in probes[1]["completions"]]
    rows = [[o] + [", ".join(w for w, _ in p["completions"][o]) for p in probes] for o in occupations]
    print("\n## he : she :: occupation : ?\n\n" + markdown_table(["occupation", "seqkeras", "gensim"], rows))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
