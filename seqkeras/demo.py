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

# Used when the package is installed without the repository's pipelines/ folder.
FALLBACK = {
    "name": "shakespeare_char_lm", "generate_prompt": "ROMEO:\n", "generate_length": 400,
    "generate_temperature": 0.7,
    "data.train": "package:tinyshakespeare.txt.gz", "data.validation": "", "data.validation_fraction": 0.1,
    "data.level": "char", "data.tokenizer": "character", "data.newline": "char",
    "model.cell": "lstm", "model.layers": 1, "model.units": 256, "model.embedding_dim": 64,
    "training.optimizer": "adam", "training.learning_rate": 5e-3, "training.clip_norm": 1.0,
    "training.epochs": 16, "training.batch_size": 64, "training.bptt_length": 100,
    "training.steps_per_epoch": 40, "training.max_minutes": 6.5,
    "training.schedule.kind": "zaremba", "training.schedule.decay": 0.7, "training.schedule.decay_after": 10,
    "tuning.enabled": True, "tuning.max_trials": 2, "tuning.epochs": 1, "tuning.steps_per_epoch": 15,
    "tuning.validation_steps": 5, "tuning.space": {"model.cell": ["lstm", "gru"],
                                                   "training.learning_rate": [5e-3, 1e-2]},
    "export.model_name": "shakespeare_char_lm",
}


def configure(parser):
    parser.add_argument("--no-tune", dest="tune", action="store_false", default=None, help="skip the brief search")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--output", default="saved_models")
    parser.add_argument("--work-dir", default="runs")


def load_demo_spec():
    """The Shakespeare pipeline spec (the repository's file, else the same values built in)."""
    from seqkeras.language_model import Spec
    from seqkeras.pipeline.spec import load_spec, with_overrides

    if SPEC_FILE.is_file():
        return load_spec(SPEC_FILE)
    spec = with_overrides(Spec(), FALLBACK)
    spec.validate()
    return spec


def main(args):
    from seqkeras.pipeline import runner

    report = runner.run(load_demo_spec(), output=args.output, work_dir=args.work_dir, tune=args.tune,
                        epochs=args.epochs)
    print(f"total wall time: {report['total_seconds']:.0f} s")
    return 0
