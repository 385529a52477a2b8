"""`RunPaths`: the files of one pipeline run under ``<work_dir>/<spec.name>/``.

    backup/            `seqkeras.pipeline.resume.ResumableBackup` (deleted when the command completes)
    checkpoints/       weights after every epoch (epoch_NNN.weights.h5)
    logs/              TensorBoard
    history.csv        one row per epoch (CSVLogger, appended across resumes)
    learning_curve.png
    final.weights.h5   the trained model (evaluate / export / generate load it)
    vocabulary.txt     fitted preprocessing state an application keeps (vocabularies)
    tuner/             keras-tuner project (resumable, overwrite=False)
    tuning_summary.md, tuning_trials.png, best_hyperparameters.json
    report.json        metrics, wall times, export path
"""

from __future__ import annotations

import dataclasses
import pathlib

VOCABULARY_FILE = "vocabulary.txt"  # the main vocabulary of a run (`seqkeras.data.load_or_fit`)


@dataclasses.dataclass
class RunPaths:
    """The files of one pipeline under ``<work_dir>/<name>/`` (see the module doc)."""

    root: pathlib.Path

    @classmethod
    def for_spec(cls, spec, work_dir: str | pathlib.Path = "runs") -> "RunPaths":
        return cls(pathlib.Path(work_dir) / spec.name)

    backup = property(lambda self: self.root / "backup")
    checkpoints = property(lambda self: self.root / "checkpoints")
    logs = property(lambda self: self.root / "logs")
    history = property(lambda self: self.root / "history.csv")
    learning_curve = property(lambda self: self.root / "learning_curve.png")
    weights = property(lambda self: self.root / "final.weights.h5")
    vocabulary = property(lambda self: self.root / VOCABULARY_FILE)
    tuner = property(lambda self: self.root / "tuner")
    tuning_summary = property(lambda self: self.root / "tuning_summary.md")
    tuning_plot = property(lambda self: self.root / "tuning_trials.png")
    best_hyperparameters = property(lambda self: self.root / "best_hyperparameters.json")
    report = property(lambda self: self.root / "report.json")
