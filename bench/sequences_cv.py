"""k-fold cross-validation of a ``sequences`` pipeline: every fold's run, per fold and mean ± std.

Each fold is the pipeline run in-process (`seqkeras.pipeline.runner.run`, no export) with
the same spec and ``--set data.fold=i`` (and its own run directory,
``<work dir>/<name>_fold<i>``), so each fold's figure is exactly what
``seqkeras run <pipeline> --set data.fold=i`` reports. The non-recurrent baseline of
every evaluation (pooled logistic regression, or the per-frame MLP) is scored on the
same folds and shown beside the model.

    python bench/sequences_cv.py --pipeline pipelines/japanese_vowels.toml
    python bench/sequences_cv.py --pipeline pipelines/japanese_vowels_frames.toml --folds 0 1
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from seqkeras.pipeline.commands.common import parse_overrides  # noqa: E402
from seqkeras.pipeline.registry import load_spec  # noqa: E402
from seqkeras.tables import text_table  # noqa: E402

METRICS = ("accuracy", "segment_f1")


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, std


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", required=True, help="a pipelines/*.toml of application 'sequences'")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--work-dir", default="runs")
    parser.add_argument("--folds", type=int, nargs="*", default=None, help="folds to run (default: all)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="spec overrides for every fold, as `seqkeras run --set`")
    parser.add_argument("--output", default="bench/results/sequences_{name}.json")
    args = parser.parse_args(argv)

    from seqkeras.pipeline import runner

    overrides = parse_overrides(args.overrides)
    spec = load_spec(args.pipeline, overrides)
    if spec.application != "sequences":
        raise SystemExit(f"error: {args.pipeline} is a {spec.application!r} pipeline, not 'sequences'")
    folds = args.folds if args.folds is not None else list(range(spec.data.folds))
    rows = []
    start = time.perf_counter()
    for fold in folds:
        fold_spec = load_spec(args.pipeline, {**overrides, "data.fold": fold, "name": f"{spec.name}_fold{fold}"})
        t0 = time.perf_counter()
        report = runner.run(fold_spec, data_dir=args.data_dir, work_dir=args.work_dir, export_model=False, verbose=0)
        metrics = report["validation"]
        rows.append({"fold": fold, "epochs": report["epochs"], "seconds": round(time.perf_counter() - t0, 1),
                     **{k: v for k, v in metrics.items() if k.removeprefix("baseline_") in METRICS}})
        print(f"fold {fold}: " + ", ".join(f"{k} {100 * v:.2f} %" for k, v in rows[-1].items()
                                           if k.removeprefix("baseline_") in METRICS), flush=True)
    keys = [k for k in METRICS if k in rows[0]]
    header = ["fold", "epochs", "seconds"] + [name for k in keys for name in (k, f"baseline {k}")]
    table = [[str(r["fold"]), str(r["epochs"]), f"{r['seconds']:.0f}"]
             + [f"{100 * r[name]:.2f}" for k in keys for name in (k, f"baseline_{k}")] for r in rows]
    summary = {}
    for k in keys:
        for name in (k, f"baseline_{k}"):
            summary[name] = mean_std([r[name] for r in rows])
    table.append(["mean ± std", "", f"{time.perf_counter() - start:.0f}"]
                 + [f"{100 * summary[name][0]:.2f} ± {100 * summary[name][1]:.2f}"
                    for k in keys for name in (k, f"baseline_{k}")])
    print(f"\n{spec.name}: {len(rows)}-fold cross-validation ({spec.data.folds} folds, task {spec.data.task}, "
          f"percent)\n")
    print(text_table(header, table))
    result = {"pipeline": args.pipeline, "overrides": overrides, "folds": rows,
              "mean_std": {k: list(v) for k, v in summary.items()},
              "command": "python bench/sequences_cv.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    output = pathlib.Path(args.output.format(name=spec.name))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1))
    print(f"\nwritten {output}")
    return result


if __name__ == "__main__":
    main()
