"""Does a character LM learn Python's syntax? Share of samples that parse, vs n-gram baselines.

For a trained run of ``pipelines/python_source_char_lm.toml`` (the standard library's
``.py`` files, split by file), four models generate from the same prompts at the same
temperatures and are scored the same way:

* the trained recurrent LM (``runs/<name>/final.weights.h5``, via
  `seqkeras.pipeline.runner.load_trained`), sampled in-graph by the export's
  ``generate`` (`LanguageModelServer`), as a client of the SavedModel would;
* the same architecture untrained (seeded initial weights);
* a unigram and a bigram character model (`seqkeras.language_model.ngram.NGramModel`)
  fitted on the same training files, same vocabulary; their first context is the
  prompt's last character.

Score: `seqkeras.language_model.source_syntax.check_source` — the sample (prompt
included) is cut after its last complete statement (tokenizer-based: outside brackets
and strings, not a block header) and that prefix must ``ast.parse`` with ≥ 1
statement. Finer, because one bad token fails a whole sample: the share of complete
logical lines that parse on their own (`seqkeras.language_model.source_syntax.line_score`;
every line of real source does). Also reported: the mean share of a sample's characters inside the parsed
prefix (0 for a sample that does not parse) and bits per character on the validation
files (whole stream; the n-grams predict each character from the one before).

Reproduce (after ``seqkeras run pipelines/python_source_char_lm.toml``):

    python bench/python_source_syntax.py [--samples 10] [--length 400] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PROMPTS = ("def ", "class ", "import ", "for ", "if __name__")
TEMPERATURES = (0.5, 0.8)


def recurrent_samples(model, tokenizer, prompts, length, temperature, seed) -> list[str]:
    """prompt + continuation for every prompt, sampled by the export's in-graph ``generate``."""
    import tensorflow as tf

    from seqkeras.language_model.server import LanguageModelServer

    server = LanguageModelServer(model, tokenizer, max_new_tokens_cap=max(length, 1))
    out = server.generate(tf.constant(list(prompts)), tf.constant(length, tf.int32),
                          tf.constant(temperature, tf.float32), tf.constant(0, tf.int32),
                          tf.constant(1.0, tf.float32), tf.constant(seed, tf.int32))
    return [p + t.decode("utf-8", "replace") for p, t in zip(prompts, out["text"].numpy())]


def ngram_samples(ngram, vocabulary, prompts, length, temperature, seed) -> list[str]:
    """prompt + `length` characters sampled from the n-gram after the prompt's last character."""
    contexts = [vocabulary.id(p[-1]) for p in prompts]
    banned = [i for i in (vocabulary.pad_id, vocabulary.unk_id) if i is not None]
    ids = ngram.sample(contexts, length, temperature, banned=banned, seed=seed)
    return [p + "".join(vocabulary.tokens[i] for i in row) for p, row in zip(prompts, ids)]


def score(samples: list[str]) -> dict:
    from seqkeras.language_model.source_syntax import check_source, line_score

    checks = [check_source(s) for s in samples]
    lines = [line_score(s) for s in samples]
    return {"parsed": sum(c.parses for c in checks), "samples": len(checks),
            "lines_parsed": sum(p for p, _ in lines), "lines": sum(n for _, n in lines),
            "parsed_chars": sum(len(c.prefix) / len(s) for c, s in zip(checks, samples) if c.parses) / len(checks),
            "statements": sum(c.statements for c in checks) / len(checks)}


def train_ids(spec, tokenizer):
    """The training files' id stream, read as `build_data` reads them (newline = "char")."""
    import tensorflow as tf

    from seqkeras.data import token_stream
    from seqkeras.data.builders.language_model import collect_ids
    from seqkeras.data.sources.file_set import file_lines, split_files

    split = split_files(spec.data.files, spec.data.validation_fraction)
    lines = file_lines(split.train, spec.data.files.encoding_errors).map(
        lambda line: line + "\n", num_parallel_calls=tf.data.AUTOTUNE)
    return collect_ids(token_stream(lines, tokenizer)), split


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="pipelines/python_source_char_lm.toml")
    parser.add_argument("--work-dir", default="runs")
    parser.add_argument("--samples", type=int, default=10, help="samples per prompt and temperature")
    parser.add_argument("--length", type=int, default=400, help="characters generated after the prompt")
    parser.add_argument("--temperatures", type=float, nargs="+", default=list(TEMPERATURES))
    parser.add_argument("--prior", type=float, default=1.0, help="the bigram's Dirichlet prior weight β")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=1, help="print this many samples per model at each temperature")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)

    import keras

    from harness import markdown_table, versions
    from seqkeras.language_model.ngram import NGramModel
    from seqkeras.pipeline import registry, runner
    from seqkeras.pipeline.run_paths import RunPaths

    spec = registry.load_spec(args.pipeline)
    if spec.application != "language_model" or spec.data.newline != "char" or not spec.data.files.root:
        raise SystemExit(f"{args.pipeline}: expected a character language model on a file set (data.files)")
    paths = RunPaths.for_spec(spec, args.work_dir)
    spec = runner.apply_best_hyperparameters(spec, paths)
    t0 = time.perf_counter()
    data = runner.build_data(spec, None, paths)          # the run's vocabulary
    ids, split = train_ids(spec, data.tokenizer)
    print(f"corpus {split.root}: {len(split.train)} training files ({len(ids):,} chars), "
          f"{len(split.validation)} validation files ({data.validation_tokens:,} chars), "
          f"vocabulary {data.vocabulary_size}; read in {time.perf_counter() - t0:.0f}s", flush=True)

    trained = runner.load_trained(spec, data, paths)
    keras.utils.set_random_seed(spec.training.seed)
    untrained = runner.application(spec).make_model(spec, data)
    V = data.vocabulary_size
    ngrams = {"unigram": NGramModel(1, V).fit(ids), "bigram": NGramModel(2, V, prior=args.prior).fit(ids)}
    prompts = [p for p in PROMPTS for _ in range(args.samples)]
    vocabulary = data.tokenizer.vocabulary

    rows, results = [], []
    for name in ("trained LSTM" if spec.model.cell == "lstm" else f"trained {spec.model.cell}", "untrained",
                 "unigram", "bigram"):
        t0 = time.perf_counter()
        if name in ngrams:
            bits = ngrams[name].bits_per_token(data.validation_ids)
        else:
            bits = runner.evaluate(spec, untrained if name == "untrained" else trained, data)["bits_per_character"]
        eval_s = time.perf_counter() - t0
        for temperature in args.temperatures:
            t0 = time.perf_counter()
            if name in ngrams:
                samples = ngram_samples(ngrams[name], vocabulary, prompts, args.length, temperature, args.seed)
            else:
                model = untrained if name == "untrained" else trained
                samples = recurrent_samples(model, data.tokenizer, prompts, args.length, temperature, args.seed)
            sample_s = time.perf_counter() - t0
            result = {"model": name, "temperature": temperature, "bits_per_character": bits, **score(samples),
                      "eval_seconds": round(eval_s, 1), "sample_seconds": round(sample_s, 1),
                      "per_prompt": {p: score(samples[i * args.samples:(i + 1) * args.samples])["parsed"]
                                     for i, p in enumerate(PROMPTS)},
                      "examples": samples[:: args.samples][: max(args.show, 0)]}
            results.append(result)
            rows.append([name, temperature, f"{result['parsed']}/{result['samples']}",
                         f"{result['parsed'] / result['samples']:.0%}",
                         f"{result['lines_parsed']}/{result['lines']} ({result['lines_parsed'] / max(result['lines'], 1):.0%})",
                         f"{result['parsed_chars']:.2f}",
                         f"{bits:.3f}", " ".join(str(v) for v in result["per_prompt"].values())])
            print(f"{name} T={temperature}: {result['parsed']}/{result['samples']} parse "
                  f"({sample_s:.0f}s sampling)", flush=True)
            for example in result["examples"]:
                print("    ---\n    " + example.replace("\n", "\n    "))

    print(f"\n{len(PROMPTS)} prompts × {args.samples} samples of {args.length} characters; "
          f"per-prompt counts in the order {', '.join(repr(p) for p in PROMPTS)}\n")
    print(markdown_table(["model", "T", "parse", "share", "lines that parse", "parsed chars", "validation bits/char",
                          "parsed per prompt"], rows))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"versions": versions([]), "pipeline": args.pipeline, "results": results}, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
