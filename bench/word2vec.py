"""Side-by-side: seqkeras skip-gram vs gensim ``Word2Vec(sg=1)`` on the same corpus.

Both train on the same prepared text file (one line per sentence, lower-cased words),
with the same settings (skip-gram, 5 negatives, window 5, 100 dimensions, min_count 5,
sample 1e-3, linear decay α₀ → 0.0001·α₀), for the same number of epochs; α₀ is each
side's default (gensim 0.025, seqkeras `model.LEARNING_RATE`, 0.1: its summed batch
step learns best there; `--learning-rate` overrides seqkeras's).
Epochs are interleaved (gensim epoch 1, seqkeras epoch 1, gensim epoch 2, …) so that a
shared, loaded machine slows both alike; each side's learning rate follows its own
whole-run schedule. Reported: raw corpus words per wall second and per CPU second
(process time, all threads: less sensitive to other load), wall time, analogy
accuracy (3CosAdd, 30k most frequent words, case-insensitive; total / semantic /
syntactic), WordSim-353 Spearman. Both sides are scored with gensim's own evaluators
and with seqkeras's (they agree; both are printed).

Reproduce (2 cores, ≈ 25–60 min depending on load):

    nice -n 5 python bench/word2vec.py --data-dir ../shared/data --epochs 5 --workers 2

The corpus: IMDB train reviews (text column) + PTB train + Lee background + Multi30k
English train + Tiny Shakespeare, standardized by `seqkeras.word2vec.data.prepare_corpus`.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SOURCES = ["imdb/train.csv.gz#text", "ptb/ptb.train.txt.gz", "lee_corpus/lee_background.cor",
           "multi30k/train.en.gz", "tinyshakespeare/input.txt.gz"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--work-dir", default="runs/bench_word2vec")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-lines", type=int, default=0, help="use only the first N lines (0 = all)")
    parser.add_argument("--every", type=int, default=1, help="use only every N-th line (a spread-out slice)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-words", type=int, default=None, help="default: SkipGramConfig's")
    parser.add_argument("--damping", default="proximal", choices=["proximal", "none"])
    parser.add_argument("--learning-rate", type=float, default=None, help="seqkeras α₀ (default: its own)")
    args = parser.parse_args(argv)

    from gensim.models import KeyedVectors, Word2Vec
    from gensim.models.word2vec import LineSentence

    from seqkeras.word2vec import data as w2v_data
    from seqkeras.word2vec import evaluation
    from seqkeras.word2vec.model import LEARNING_RATE, SkipGram
    from seqkeras.word2vec.train import train

    work = pathlib.Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    data_dir = pathlib.Path(args.data_dir).resolve()
    questions = data_dir / "word_eval" / "questions-words.txt"
    wordsim = data_dir / "word_eval" / "wordsim353.tsv"
    corpus = work / "corpus.txt"
    if not corpus.is_file():
        t0 = time.perf_counter()
        stats = w2v_data.prepare_corpus(SOURCES, corpus, data_dir=data_dir)
        print(f"prepared {corpus}: {stats} in {time.perf_counter() - t0:.0f}s", flush=True)
    if args.max_lines or args.every > 1:
        small = work / f"corpus_{args.max_lines}_{args.every}.txt"
        with open(corpus, encoding="utf-8") as src, open(small, "w", encoding="utf-8") as dst:
            for i, line in enumerate(src):
                if args.max_lines and i >= args.max_lines:
                    break
                if (i + 1) % args.every == 0:
                    dst.write(line)
        corpus = small

    E, lr0, lr_min = args.epochs, 0.025, 0.0001 * 0.025                # gensim's defaults
    ours0 = args.learning_rate or LEARNING_RATE
    results = {"gensim": {"train_s": 0.0, "cpu_s": 0.0}, "seqkeras": {"train_s": 0.0, "cpu_s": 0.0}}

    # ---- vocabularies (timed apart from training)
    t0 = time.perf_counter()
    gmodel = Word2Vec(sg=1, negative=5, window=5, vector_size=100, min_count=5, sample=1e-3,
                      workers=args.workers, seed=args.seed, alpha=lr0, min_alpha=lr_min)
    gmodel.build_vocab(LineSentence(str(corpus)))
    results["gensim"]["vocab_s"] = time.perf_counter() - t0
    raw_words = gmodel.corpus_total_words

    t0 = time.perf_counter()
    lines = w2v_data.corpus_lines(str(corpus))
    vocab, stats = w2v_data.build_vocabulary(lines, min_count=5, standardize_mode="none", source=str(corpus))
    config = w2v_data.SkipGramConfig(window=5, negatives=5, sample=1e-3, seed=args.seed)
    if args.batch_words:
        config.batch_words = args.batch_words
    model = SkipGram(len(vocab), 100, seed=args.seed, damping=args.damping)
    results["seqkeras"]["vocab_s"] = time.perf_counter() - t0
    print(f"corpus {corpus}: {stats.lines} lines, {raw_words} words; vocabulary gensim "
          f"{len(gmodel.wv)} / seqkeras {len(vocab) - 2}", flush=True)

    for epoch in range(E):
        a0 = lr0 - (lr0 - lr_min) * epoch / E
        a1 = lr0 - (lr0 - lr_min) * (epoch + 1) / E
        t0, c0 = time.perf_counter(), time.process_time()
        gmodel.train(LineSentence(str(corpus)), total_examples=gmodel.corpus_count, epochs=1,
                     start_alpha=a0, end_alpha=a1)
        g_wall, g_cpu = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        report = train(model, lines, vocab, stats, config, epochs=E, learning_rate=ours0,
                       min_learning_rate=ours0 * 1e-4, standardize_mode="none", verbose=0,
                       epoch_range=(epoch, epoch + 1))
        s_wall, s_cpu = time.perf_counter() - t0, time.process_time() - c0
        for side, wall, cpu in (("gensim", g_wall, g_cpu), ("seqkeras", s_wall, s_cpu)):
            results[side]["train_s"] += wall
            results[side]["cpu_s"] += cpu
        print(f"epoch {epoch + 1}/{E}: gensim {raw_words / g_wall:,.0f} w/s ({g_wall:.0f}s, cpu {g_cpu:.0f}s) | "
              f"seqkeras {raw_words / s_wall:,.0f} w/s ({s_wall:.0f}s, cpu {s_cpu:.0f}s), loss/pair "
              f"{report.loss:.4f}", flush=True)

    # ---- evaluation: gensim's evaluators and ours, on both sets of vectors
    ours = evaluation.WordVectors(vocab.tokens[2:], model.vectors()[2:])
    kv = KeyedVectors(100)
    kv.add_vectors(ours.words, ours.vectors)
    theirs = evaluation.WordVectors(list(gmodel.wv.index_to_key), gmodel.wv.vectors)
    for side, wv, keyed in (("gensim", theirs, gmodel.wv), ("seqkeras", ours, kv)):
        r = results[side]
        analogy = evaluation.evaluate_analogies(wv, questions, restrict_vocab=30000)
        sim = evaluation.evaluate_word_pairs(wv, wordsim)
        g_score, _ = keyed.evaluate_word_analogies(str(questions), restrict_vocab=30000, case_insensitive=True)
        g_pearson, g_spearman, g_oov = keyed.evaluate_word_pairs(str(wordsim))
        mul = evaluation.evaluate_analogies(wv, questions, restrict_vocab=30000, method="3CosMul")
        r.update(words=raw_words * E, words_per_s=raw_words * E / r["train_s"],
                 words_per_cpu_s=raw_words * E / r["cpu_s"],
                 analogy=analogy.accuracy, semantic=analogy.semantic_accuracy,
                 syntactic=analogy.syntactic_accuracy, analogy_3cosmul=mul.accuracy,
                 analogy_scored=analogy.total, analogy_oov=analogy.oov,
                 wordsim_spearman=sim.spearman, wordsim_oov=sim.oov,
                 gensim_eval_analogy=float(g_score), gensim_eval_spearman=float(g_spearman.statistic),
                 vocabulary=len(wv))
        print(f"\n[{side}]\n{analogy.report()}\nWordSim353 Spearman {sim.spearman:.4f} "
              f"({sim.pairs} pairs, {sim.oov} OOV); gensim's evaluators: analogy {g_score:.4f}, "
              f"Spearman {g_spearman.statistic:.4f}", flush=True)
        for word in ("good", "king", "france"):
            if word in wv:
                print(f"  {word}: " + ", ".join(w for w, _ in wv.most_similar(word, topn=8)))

    g, s = results["gensim"], results["seqkeras"]
    rows = [("words/s (wall)", "words_per_s", "{:,.0f}"), ("words/CPU-s", "words_per_cpu_s", "{:,.0f}"),
            ("train wall (s)", "train_s", "{:.0f}"), ("analogy total (%)", "analogy", "{:.2%}"),
            ("  semantic (%)", "semantic", "{:.2%}"), ("  syntactic (%)", "syntactic", "{:.2%}"),
            ("analogy 3CosMul (%)", "analogy_3cosmul", "{:.2%}"),
            ("WordSim353 Spearman", "wordsim_spearman", "{:.4f}")]
    table = ["| metric | gensim | seqkeras | seqkeras / gensim |", "|---|---|---|---|"]
    for label, key, fmt in rows:
        ratio = s[key] / g[key] if g[key] else float("nan")
        table.append(f"| {label} | {fmt.format(g[key])} | {fmt.format(s[key])} | {ratio:.2f} |")
    text = "\n".join(table)
    print("\n" + text)
    (work / "results.json").write_text(json.dumps(results, indent=2))
    (work / "results.md").write_text(f"corpus: {corpus} ({raw_words:,} words, {stats.lines:,} lines), "
                                     f"epochs {E}, workers {args.workers}, batch_words {config.batch_words}, seqkeras α₀ {ours0}, "
                                     f"damping {args.damping}\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
