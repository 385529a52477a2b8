"""Arguments and helpers shared by the pipeline subcommands."""

from __future__ import annotations

import argparse
import json
import tomllib

from seqkeras.pipeline.registry import load_spec
from seqkeras.pipeline.run_paths import RunPaths
from seqkeras.pipeline.spec import SpecError


def add_pipeline_arguments(parser: argparse.ArgumentParser, output: bool = False) -> None:
    parser.add_argument("pipeline", help="pipeline spec (.toml), e.g. pipelines/ptb_word_lm.toml")
    parser.add_argument("--data-dir", default=None,
                        help="data directory for relative corpus paths (default: $SEQKERAS_DATA, ./data)")
    parser.add_argument("--work-dir", default="runs",
                        help="where run directories (checkpoints, logs, curves) live (default: runs)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a spec key, e.g. --set model.units=256 (value in TOML syntax)")
    if output:
        parser.add_argument("--output", default="saved_models", help="export root (default: saved_models)")


def parse_overrides(items: list[str]) -> dict:
    """``["model.units=256", "model.cell=gru"]`` → {"model.units": 256, "model.cell": "gru"}."""
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, received {item!r}")
        try:
            overrides[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            overrides[key.strip()] = value
    return overrides


def load(args, extra: dict | None = None):
    """The spec named by ``args.pipeline`` with ``--set`` and `extra` overrides."""
    overrides = {**parse_overrides(args.overrides), **(extra or {})}
    try:
        return load_spec(args.pipeline, overrides)
    except SpecError as error:
        raise SystemExit(f"error: {error}") from None


def load_run(args, extra: dict | None = None):
    """``(spec with the tuned values, its Data, its RunPaths)`` for a command on a pipeline."""
    from seqkeras.pipeline import runner

    spec = load(args, extra)
    paths = RunPaths.for_spec(spec, args.work_dir)
    spec = runner.apply_best_hyperparameters(spec, paths)
    return spec, runner.build_data(spec, args.data_dir, paths), paths


def print_json(value) -> None:
    print(json.dumps(value, indent=2, default=str))
