"""Shared application machinery: spec → data → model → hypermodel → export, once.

* `Application` (`application.py`): the contract one application implements; the
  one place that says what an application provides (hooks, argument order, checks).
* `registry`: application name → `Application`; `load_spec` (TOML → typed spec,
  unknown keys and unsupported shared keys are errors naming the key and file).
* `runner`: ingest → (tune) → train → evaluate → export with progress bars,
  TensorBoard, a checkpoint per epoch, atomic resume (`resume`), learning curve.
* `tuning`: keras-tuner RandomSearch / Hyperband / BayesianOptimization over dotted
  spec keys, resumable, summary table + PNG.
* `commands`: the CLI subcommands (``run``, ``train``, ``tune``, ``evaluate``,
  ``export``, ``generate``, ``predict``, ``init``), the same for every application.

Names are imported on first use, so the CLI can start without TensorFlow.

Example:
    >>> from seqkeras.pipeline import load_spec, runner
    >>> report = runner.run(load_spec("pipelines/shakespeare_char_lm.toml"))  # doctest: +SKIP
"""

import importlib

_EXPORTS = {
    "Application": "seqkeras.pipeline.application",
    "Data": "seqkeras.pipeline.data",
    "RunPaths": "seqkeras.pipeline.run_paths",
    "ExportSpec": "seqkeras.pipeline.spec",
    "PipelineSpec": "seqkeras.pipeline.spec",
    "ScheduleSpec": "seqkeras.pipeline.spec",
    "SpecError": "seqkeras.pipeline.spec",
    "TrainingSpec": "seqkeras.pipeline.spec",
    "TuningSpec": "seqkeras.pipeline.spec",
    "with_overrides": "seqkeras.pipeline.spec",
    "load_spec": "seqkeras.pipeline.registry",
    "make_optimizer": "seqkeras.pipeline.training",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'seqkeras.pipeline' has no attribute {name!r}")
