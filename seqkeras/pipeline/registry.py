"""Application registry: the ``application`` key of a spec → its `Application`.

Applications are registered by import path (``"module:Class"``) and imported on first
use, so the CLI starts without importing every application (or TensorFlow). `get`
checks the contract (`seqkeras.pipeline.application.check_application`) the first
time an application is used. `load_spec` reads a TOML file into the typed spec of the
application it names.
"""

from __future__ import annotations

import functools
import importlib
import os
from typing import Any

from seqkeras.pipeline.spec import SpecError, parse_spec, read_toml, with_overrides

# application name -> "module:Class"
BUILTIN = {
    "language_model": "seqkeras.language_model:LanguageModelApplication",
    "classification": "seqkeras.classification:ClassificationApplication",
    "tagging": "seqkeras.tagging:TaggingApplication",
    "translation": "seqkeras.translation:TranslationApplication",
    "word2vec": "seqkeras.word2vec:Word2VecApplication",
    "long_range": "seqkeras.tasks.application:LongRangeApplication",
    "forecasting": "seqkeras.forecasting:ForecastingApplication",
    "recommendation": "seqkeras.recommendation:RecommendationApplication",
    "sequences": "seqkeras.sequences:SequencesApplication",
    "captioning": "seqkeras.captioning:CaptioningApplication",
}
_REGISTRY: dict[str, str] = dict(BUILTIN)


def register(name: str, target: str) -> None:
    """Make ``application = "<name>"`` in a spec use `target` (``"module:Class"``)."""
    if ":" not in target:
        raise ValueError(f"register {name!r}: target must be 'module:Class', received {target!r}")
    _REGISTRY[name] = target
    get.cache_clear()


def names() -> list[str]:
    """The registered application names, sorted."""
    return sorted(_REGISTRY)


@functools.lru_cache(maxsize=None)
def get(name: str):
    """The `Application` instance registered as `name`.

    Raises:
        KeyError: no application of that name.
        TypeError: the registered class breaks the contract.
    """
    from seqkeras.pipeline.application import check_application

    if name not in _REGISTRY:
        raise KeyError(name)
    module_name, class_name = _REGISTRY[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    check_application(cls, name)
    return cls()


def load_spec(path: str | os.PathLike, overrides: dict[str, Any] | None = None):
    """Read a pipeline TOML file into its application's typed spec.

    Args:
        path: the ``.toml`` file; its ``application`` key picks the application.
        overrides: dotted keys to replace after loading (command-line ``--set``).

    Raises:
        SpecError: unreadable file, unknown application, unknown key, wrong type or
            value, or a shared key the application cannot honour.
    """
    data = read_toml(path)
    name = data.get("application")
    if not isinstance(name, str):
        raise SpecError(path, "application", f"missing: name the application, one of {names()}")
    try:
        app = get(name)
    except KeyError:
        raise SpecError(path, "application", f"unknown application {name!r}, known: {names()}") from None
    spec = parse_spec(app.spec_class, data, path)
    if overrides:
        spec = with_overrides(spec, overrides)
        spec.validate()
    return spec
