"""`seqkeras demo`: the main job — the Tiny Shakespeare character LM pipeline, end to end.

Equivalent to ``seqkeras run pipelines/shakespeare_char_lm.toml``: ingest the corpus
shipped inside the package (public domain, gzip), a brief keras-tuner search (2 tiny
trials), training with checkpoints / TensorBoard / learning curve, evaluation (bits per
character), export to ``saved_models/shakespeare_char_lm/<version>/`` and generated
text. About 10 minutes on 2 CPU cores; no data directory needed.
"""

from __future__ import annotations

import pathlib

SPEC_FILE = pathlib.Path(__file__).resolve().parents[1] / "pipelines" / "shakespeare_char_lm.toml"

def configure(parser):
    parser.add_argument("--no-tune", dest="tune", action="store_false", default=None, help="skip the brief search")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--output", default="saved_models")
    parser.add_argument("--work-dir", default="runs")


def load_demo_spec():
    """The repository's Shakespeare pipeline spec."""
    from seqkeras.pipeline.registry import load_spec

    if not SPEC_FILE.is_file():
        raise SystemExit(
            f"seqkeras demo runs {SPEC_FILE.relative_to(SPEC_FILE.parents[1])} from a checkout of "
            f"the repository, and {SPEC_FILE} is not there; run `seqkeras run "
            "path/to/shakespeare_char_lm.toml` instead"
        )
    return load_spec(SPEC_FILE)


def main(args):
    from seqkeras.pipeline import runner

    report = runner.run(load_demo_spec(), output=args.output, work_dir=args.work_dir, tune=args.tune,
                        epochs=args.epochs)
    print(f"total wall time: {report['total_seconds']:.0f} s")
    return 0
