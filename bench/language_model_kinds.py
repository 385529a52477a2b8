"""Recurrent vs fixed-window vs convolutional language models at equal training time.

    python bench/language_model_kinds.py --study words --minutes 6 --data-dir ../shared/data
    python bench/language_model_kinds.py --study chars --minutes 8 --data-dir ../shared/data

``words``: PTB words, the shipped LSTM (`ptb_word_lm`) beside the feed-forward NNLM
(`ptb_word_nnlm`, Bengio et al. 2003) with n = 2, 4, 8. ``chars``: PTB characters, the
shipped LSTM (`ptb_char_lm`) beside the dilated causal CNN (`ptb_char_dilated`).

Every model trains through the shared runner on the same BPTT windows for the same
wall-clock budget (``training.max_minutes``; epochs of 200 steps so the budget stops
within a few seconds of its end), with Adam at the pipeline's rate and no schedule (the
shipped schedules are sized for full runs). Reported on the whole validation stream:
perplexity (words) or bits/char (chars), parameters, training tokens/s, sampling
tokens/s (`sample_text`, batch 1, one token per step: the dilated model's per-layer
queues make a step O(layers)), and for words the perplexity by position in the sentence
(`nll_by_position`), plotted to ``docs/lm_kinds_<study>.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import re
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from harness import markdown_table, versions  # noqa: E402

from seqkeras.quiet import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

ROOT = pathlib.Path(__file__).resolve().parents[1]
STUDIES = {
    "words": [("LSTM 2×200 (ptb_word_lm)", "ptb_word_lm.toml", {"training.optimizer": "adam",
                                                                "training.learning_rate": 2e-3}),
              ("NNLM n = 2", "ptb_word_nnlm.toml", {"model.context": 2}),
              ("NNLM n = 4", "ptb_word_nnlm.toml", {"model.context": 4}),
              ("NNLM n = 8", "ptb_word_nnlm.toml", {"model.context": 8})],
    "chars": [("LSTM (ptb_char_lm)", "ptb_char_lm.toml", {}),
              ("dilated CNN (ptb_char_dilated)", "ptb_char_dilated.toml", {})],
}


def measure(label: str, pipeline: str, overrides: dict, minutes: float, data_dir: str, work: pathlib.Path) -> dict:
    from seqkeras.language_model.generate import sample_text
    from seqkeras.language_model.metrics import nll_by_position
    from seqkeras.pipeline import load_spec, runner

    overrides = {"training.max_minutes": minutes, "training.epochs": 1000, "training.steps_per_epoch": 200,
                 "training.early_stopping": 0, "training.schedule.kind": "constant",
                 "name": "kinds_" + re.sub(r"\W+", "_", label.lower()).strip("_"), **overrides}
    spec = load_spec(ROOT / "pipelines" / pipeline, overrides)
    paths = runner.RunPaths.for_spec(spec, work)
    data = runner.build_data(spec, data_dir, paths)
    model, history = runner.train(spec, data, paths, verbose=0, resume=False)
    metrics = runner.evaluate(spec, model, data)
    seconds = sum(history["epoch_seconds"])
    steps = len(history["loss"]) * spec.training.steps_per_epoch
    tokens = steps * spec.training.batch_size * spec.training.bptt_length
    sample_text(model, data.tokenizer, "the", length=5)          # trace the step function
    started = time.perf_counter()
    sample_text(model, data.tokenizer, "the", length=300)
    row = {"model": label, "parameters": model.count_params(), "train_seconds": seconds, "steps": steps,
           "train_tokens_per_s": tokens / seconds, "sample_tokens_per_s": 300 / (time.perf_counter() - started),
           **metrics}
    if hasattr(model, "receptive_field"):
        row["receptive_field"] = model.receptive_field
    elif hasattr(model, "context_size"):
        row["receptive_field"] = model.context_size
    if spec.data.level == "word":
        row["by_position"] = nll_by_position(model, data.validation_ids, data.tokenizer.vocabulary.eos_id,
                                             spec.training.batch_size, spec.training.bptt_length)
    return row


def plot(rows: list[dict], path: pathlib.Path, minutes: float) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for row in rows:
        labels = list(row["by_position"])
        axis.plot(range(len(labels)), [row["by_position"][k]["perplexity"] for k in labels], marker="o",
                  label=row["model"])
    axis.set_xticks(range(len(labels)), labels)
    axis.set_xlabel("position of the predicted word in its sentence")
    axis.set_ylabel("validation perplexity")
    axis.set_yscale("log")
    axis.set_title(f"PTB: perplexity by position, {minutes:g} min of training each")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", choices=sorted(STUDIES), required=True)
    parser.add_argument("--minutes", type=float, default=6.0, help="training budget per model")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--work", default="/tmp/seqkeras_lm_kinds")
    parser.add_argument("--only", nargs="+", default=None, metavar="TEXT",
                        help="measure only the models whose label contains one of these (e.g. LSTM 'n = 8')")
    args = parser.parse_args()

    models = [m for m in STUDIES[args.study] if not args.only or any(text in m[0] for text in args.only)]
    if not models:
        parser.error(f"--only {args.only} matches none of {[label for label, _, _ in STUDIES[args.study]]}")
    rows = [measure(label, pipeline, overrides, args.minutes, args.data_dir, pathlib.Path(args.work))
            for label, pipeline, overrides in models]
    word = args.study == "words"
    metric = "perplexity" if word else "bits_per_character"
    print(f"# Language-model kinds, PTB {args.study}, {args.minutes:g} min of training each\n")
    print(json.dumps(versions([])))
    print(markdown_table(
        ["model", metric, "parameters", "steps", "train tokens/s", "sampling tokens/s", "receptive field"],
        [[r["model"], f"{r[metric]:.3f}", f"{r['parameters']:,}", r["steps"], f"{r['train_tokens_per_s']:,.0f}",
          f"{r['sample_tokens_per_s']:.0f}", r.get("receptive_field", "unbounded" if "LSTM" in r["model"] else "")]
         for r in rows]))
    if word:
        labels = list(rows[0]["by_position"])
        print("\nperplexity by position in the sentence:\n")
        print(markdown_table(["model", *labels],
                             [[r["model"], *[f"{r['by_position'][k]['perplexity']:.0f}" for k in labels]]
                              for r in rows]))
        plot(rows, ROOT / "docs" / f"lm_kinds_{args.study}_{args.minutes:g}min.png", args.minutes)
    out = ROOT / "bench" / "results" / f"lm_kinds_{args.study}_{args.minutes:g}min.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
