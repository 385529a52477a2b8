"""Application registry: the ``application`` key of a spec → the module implementing it.

An application module (e.g. `seqkeras.language_model`) exposes:

=====================  =====================================================================
``Spec``               dataclass deriving from `seqkeras.pipeline.spec.PipelineSpec`
``build_data``         ``(spec, data_dir) -> Data`` (a `seqkeras.pipeline.Data`)
``build_model``        ``(spec, data) -> keras.Model``, compiled (loss, metrics, optimizer)
``HyperModel``         ``keras_tuner.HyperModel`` subclass, ``HyperModel(spec, data)``;
                       `seqkeras.pipeline.tuning.SpecHyperModel` is the generic one
``evaluate``           ``(model, spec, data) -> dict[str, float]`` on the validation split
``export``             ``(model, spec, data, output_dir) -> pathlib.Path`` (the version dir)
=====================  =====================================================================

and optionally:

=====================  =====================================================================
``callbacks``          ``(spec, data) -> list[keras.callbacks.Callback]`` (e.g. state resets)
``after_run``          ``(model, spec, data, report: dict) -> None`` (print samples)
``generate``           ``(args) -> int``: the ``seqkeras generate`` command body
``predict``            ``(saved_model, inputs: list[str], args) -> list[str]``
=====================  =====================================================================

Register an application with `register` (or add it to `BUILTIN`); modules are
imported on first use.
"""

from __future__ import annotations

import importlib
import types

# application name -> module path
BUILTIN = {
    "language_model": "seqkeras.language_model",
    "word2vec": "seqkeras.word2vec",
    "tagging": "seqkeras.tagging",
    "translation": "seqkeras.translation",
    "classification": "seqkeras.classification",
    "long_range": "seqkeras.tasks.application",
}
_REGISTRY: dict[str, str] = dict(BUILTIN)
REQUIRED = ("Spec", "build_data", "build_model", "HyperModel", "evaluate", "export")


def register(name: str, module: str) -> None:
    """Make ``application = "<name>"`` in a spec use `module` (an import path)."""
    _REGISTRY[name] = module


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> types.ModuleType:
    """The application module registered as `name`; KeyError if none is.

    Raises:
        KeyError: no application of that name.
        TypeError: the module lacks one of `REQUIRED`.
    """
    if name not in _REGISTRY:
        raise KeyError(name)
    module = importlib.import_module(_REGISTRY[name])
    missing = [attr for attr in REQUIRED if not hasattr(module, attr)]
    if missing:
        raise TypeError(f"application module {module.__name__} lacks {missing}")
    return module
