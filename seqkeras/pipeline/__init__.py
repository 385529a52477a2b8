"""Shared application machinery: spec → data → model → hypermodel → export, once.

Every application (language model, word2vec, classification, tagging, translation,
...) is a module registered in `seqkeras.pipeline.registry` under the name its specs
give as ``application = "..."``. The module provides the task-specific part only:

=================  ===================================================================
``Spec``           a dataclass deriving from `PipelineSpec`, adding its ``data`` and
                   ``model`` sections (dataclasses; defaults written where declared).
                   Shared sections: `TrainingSpec` (subclass it to add keys, e.g. the
                   BPTT length), `TuningSpec` (``space`` of dotted spec keys),
                   `ExportSpec`.
``build_data``     ``(spec, data_dir[, vocabulary_path]) -> Data``: tf.data ``train`` /
                   ``validation`` batches, the fitted ``tokenizer``, an ``info`` dict.
``build_model``    ``(spec, data) -> keras.Model``, compiled (use `make_optimizer`).
``HyperModel``     ``HyperModel(application, spec, data)``; usually just
                   `SpecHyperModel` (every dotted spec key is tunable).
``evaluate``       ``(model, spec, data) -> dict`` of validation metrics.
``export``         ``(model, spec, data, output_dir) -> path`` of the version directory
                   (raise `NotImplementedError` when the task has no export yet). The
                   serving module itself lives in the application's ``server.py``: a
                   submodule named ``export`` would shadow this function once imported.
optional           ``callbacks(spec, data)``, ``after_run(model, spec, data, report)``,
                   ``loss_scale(spec)``.
=================  ===================================================================

The shared part — `load_spec` (TOML → typed spec, unknown keys are errors naming the
key and file), `runner.run` (ingest → tune → train → evaluate → export with progress
bars, TensorBoard, a checkpoint per epoch, BackupAndRestore resume, learning curve),
`tuning.tune` (RandomSearch / Hyperband / BayesianOptimization, resumable, summary
table + PNG) and the CLI subcommands (`seqkeras.pipeline.commands`: ``run``,
``train``, ``tune``, ``evaluate``, ``export``, ``generate``, ``predict``) — works for
every registered application unchanged.

Adding an application::

    # seqkeras/myapp/__init__.py: Spec, build_data, build_model, HyperModel, evaluate, export
    from seqkeras.pipeline import registry
    registry.register("myapp", "seqkeras.myapp")      # or add it to registry.BUILTIN

    # pipelines/myapp.toml
    application = "myapp"
    [data] ...  [model] ...  [training] ...  [tuning] ...  [export] ...

Example:
    >>> from seqkeras.pipeline import load_spec, runner
    >>> report = runner.run(load_spec("pipelines/shakespeare_char_lm.toml"))  # doctest: +SKIP
"""

from seqkeras.pipeline.data import Data
from seqkeras.pipeline.spec import (ExportSpec, PipelineSpec, ScheduleSpec, SpecError, TrainingSpec, TuningSpec,
                                    load_spec, with_overrides)
from seqkeras.pipeline.training import make_optimizer

__all__ = ["Data", "ExportSpec", "PipelineSpec", "ScheduleSpec", "SpecError", "TrainingSpec", "TuningSpec",
           "load_spec", "make_optimizer", "with_overrides"]
