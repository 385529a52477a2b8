"""Typed pipeline specs: TOML files parsed into dataclasses, unknown keys are errors.

Every application's spec is a dataclass deriving from `PipelineSpec`; its sections
are dataclasses too, with their defaults written where they are declared. `load_spec`
(in `seqkeras.pipeline.registry`) reads a TOML file (stdlib `tomllib`), finds the
application named by its ``application`` key, and converts the tables into that
application's spec class with `parse_spec`, checking every value's type. A key the dataclass does not
declare raises `SpecError` naming the key (with its dotted path) and the file.

Shared sections (`TrainingSpec`, `TuningSpec`, `ExportSpec`) live here once; an
application adds its own ``data`` and ``model`` sections. Every shared key is applied by
the shared runner for every application; a spec class lists the shared keys its
application cannot honour in ``unsupported_keys``, and a spec that sets one of them to
anything but its default is rejected at load time (key and file named).

Value checks beyond types use the `PipelineSpec` helpers (`check_choices`,
`check_at_least`, `check_fraction`, `check_cells`), so every application words its errors
the same way.

Example:
    >>> spec = load_spec("pipelines/shakespeare_char_lm.toml")     # doctest: +SKIP
    >>> spec.model.cell, spec.training.epochs                      # doctest: +SKIP
    ('lstm', 3)
"""

from __future__ import annotations

import copy
import dataclasses
import os
import pathlib
import tomllib
import types
import typing
from typing import Any, ClassVar


class SpecError(ValueError):
    """A pipeline spec is malformed: unknown key, wrong type or invalid value.

    The message names the file and the dotted key.
    """

    def __init__(self, source: str | os.PathLike | None, key: str | None, message: str):
        self.source = None if source is None else str(source)
        self.key = key
        where = self.source or "<spec>"
        super().__init__(f"{where}: {f'[{key}] ' if key else ''}{message}")


# ``model.jit_compile`` as spec text → the recurrent layers' ``jit_compile`` argument.
JIT_COMPILE = {"auto": "auto", "true": True, "false": False}


# ---------------------------------------------------------------- shared sections
@dataclasses.dataclass
class ScheduleSpec:
    """Learning-rate schedule.

    ``kind``:
      * ``"constant"``;
      * ``"zaremba"``: constant for `decay_after` epochs, then × `decay` per epoch
        (Zaremba et al. 2014: small model 4 / 0.5, medium 6 / 0.8);
      * ``"plateau"``: × `decay` when the validation loss stops improving
        (`patience` epochs);
      * ``"cosine"``: constant for `decay_after` epochs, then a half cosine, updated
        every step, from the initial rate down to `decay` × it at the end of the last
        epoch (``decay = 0`` anneals to zero). For a fixed budget of updates.
    """

    kind: str = "constant"
    decay: float = 0.5
    decay_after: int = 4
    patience: int = 0


@dataclasses.dataclass
class TrainingSpec:
    """Optimisation settings shared by every application."""

    optimizer: str = "adam"            # "sgd" | "adam" | "adamw" | "rmsprop"
    learning_rate: float = 1e-3
    momentum: float = 0.0              # sgd only
    weight_decay: float = 0.0          # adamw only
    clip_norm: float = 0.0             # gradient clipping by global norm; 0 = off
    schedule: ScheduleSpec = dataclasses.field(default_factory=ScheduleSpec)
    epochs: int = 10
    batch_size: int = 32
    steps_per_epoch: int = 0           # 0 = the whole training split every epoch
    validation_steps: int = 0          # 0 = the whole validation split
    seed: int = 0
    precision: str = "float32"         # "float32" | "mixed_bfloat16" (whole model)
    distribution: str = "none"         # "none" | "mirrored": data-parallel over the local GPUs (or logical CPUs)
    early_stopping: int = 0            # patience in epochs; 0 = off
    max_minutes: float = 0.0           # stop after the epoch that would overrun this budget; 0 = off


@dataclasses.dataclass
class TuningSpec:
    """keras-tuner search.

    ``space`` maps a dotted spec key (``"model.units"``, ``"training.learning_rate"``)
    to its search range:

    * a list → ``hp.Choice`` among its values;
    * a table ``{min, max, step?, sampling?}`` → ``hp.Int`` (integer bounds) or
      ``hp.Float`` (a float bound); ``sampling`` is ``"linear"``, ``"log"`` or
      ``"reverse_log"``.

    Each trial trains the application's model with those keys overridden; the best
    trial's values are merged into the spec and the final model is retrained from them.
    """

    enabled: bool = False              # `seqkeras run` tunes first when true (or --tune)
    tuner: str = "random"              # "random" | "hyperband" | "bayesian"
    max_trials: int = 10
    executions_per_trial: int = 1
    epochs: int = 2                    # epochs per trial (hyperband: max_epochs)
    steps_per_epoch: int = 0           # 0 = training.steps_per_epoch
    validation_steps: int = 0          # 0 = training.validation_steps
    hyperband_factor: int = 3
    objective: str = "val_loss"
    direction: str = "min"             # "min" | "max"
    max_minutes: float = 0.0           # stop starting new trials after this budget; 0 = none
    seed: int = 0
    space: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ExportSpec:
    """Where and how the trained model is exported for serving."""

    enabled: bool = True
    model_name: str = ""               # saved_models/<model_name>/<version>/; "" = spec name
    version_policy: str = "next"       # "next" (highest + 1) | "fixed" | "timestamp"
    version: int = 1                   # for "fixed"
    max_tokens: int = 0                # longest request the export reads (tokens); 0 = the application's default


@dataclasses.dataclass
class PipelineSpec:
    """Base of every application spec: the keys all pipelines share.

    Subclasses add ``data`` and ``model`` sections (dataclasses), may change the
    default of any section by redeclaring the field, extend `validate` with the check
    helpers below, and list in ``unsupported_keys`` the shared keys (dotted) that their
    application cannot honour.
    """

    # Shared dotted keys this application ignores; setting one is a load-time error.
    unsupported_keys: ClassVar[tuple[str, ...]] = ()
    # Per ``model.kind``, the model keys only that kind reads (`check_tuning_space`).
    kind_keys: ClassVar[dict[str, tuple[str, ...]]] = {}
    # What ``export.max_tokens = 0`` means for this application's exports.
    default_max_tokens: ClassVar[int] = 0

    application: str = ""
    name: str = ""
    description: str = ""
    training: TrainingSpec = dataclasses.field(default_factory=TrainingSpec)
    tuning: TuningSpec = dataclasses.field(default_factory=TuningSpec)
    export: ExportSpec = dataclasses.field(default_factory=ExportSpec)
    # Where the spec came from (set by the loader, not a TOML key).
    source: str = dataclasses.field(default="", metadata={"internal": True})

    # -- check helpers: each raises `SpecError` naming the dotted key and the file -------
    def check_choices(self, checks) -> None:
        """Each ``(dotted key, value, allowed values)``: the value must be allowed."""
        for key, value, choices in checks:
            _choice(self, key, value, choices)

    def check_at_least(self, minimum, *keys: str) -> None:
        """Each dotted key's value must be ≥ `minimum`."""
        for key in keys:
            value = get_key(self, key)
            if value < minimum:
                raise SpecError(self.source, key, f"must be ≥ {minimum}, received {value}")

    def check_fraction(self, *keys: str, closed: bool = False) -> None:
        """Each dotted key's value must be in [0, 1) (a dropout rate), or [0, 1] if `closed`."""
        for key in keys:
            value = get_key(self, key)
            if not (0.0 <= value <= 1.0 if closed else 0.0 <= value < 1.0):
                raise SpecError(self.source, key, f"must be in [0, 1{']' if closed else ')'}, received {value}")

    def check_cells(self, *keys: str) -> None:
        """Each dotted key names a cell: ``"lstm"``, ``"gru"``, ... or ``"lstm:<variant>"``."""
        for key in keys:
            _check_cell(self, key, get_key(self, key))

    def check_tuning_space(self) -> None:
        """Raise `SpecError` if the tuning space names a key of another ``model.kind``
        (`kind_keys`), which the model would ignore.

        Called when a search starts (``--tune`` may start one whatever
        ``tuning.enabled`` says), not at load time: a default space that a run never
        searches must not fail every load.
        """
        for kind, keys in self.kind_keys.items():
            if kind == self.model.kind:
                continue
            for key in keys:
                if key in self.tuning.space:
                    raise SpecError(self.source, f"tuning.space.{key}", f"applies to model.kind = {kind!r} only, "
                                    f"not {self.model.kind!r}: remove it from the tuning space")

    def validate(self) -> None:
        """Check values beyond their types; raise `SpecError`. Subclasses extend."""
        t = self.training
        self.check_choices([
            ("training.optimizer", t.optimizer, ("sgd", "adam", "adamw", "rmsprop")),
            ("training.precision", t.precision, ("float32", "mixed_bfloat16")),
            ("training.distribution", t.distribution, ("none", "mirrored")),
            ("training.schedule.kind", t.schedule.kind, ("constant", "zaremba", "plateau", "cosine")),
            ("tuning.tuner", self.tuning.tuner, ("random", "hyperband", "bayesian")),
            ("tuning.direction", self.tuning.direction, ("min", "max")),
            ("export.version_policy", self.export.version_policy, ("next", "fixed", "timestamp")),
        ])
        self.check_at_least(1, "training.epochs", "training.batch_size", "tuning.max_trials", "tuning.epochs")
        self.check_at_least(0, "export.max_tokens", "training.clip_norm", "training.max_minutes")
        if t.learning_rate <= 0:
            raise SpecError(self.source, "training.learning_rate", f"must be > 0, received {t.learning_rate}")
        self._check_supported()
        for key in self.tuning.space:
            try:
                get_key(self, key)
            except KeyError:
                raise SpecError(self.source, f"tuning.space.{key}",
                                "names no key of this spec (use dotted keys such as 'model.units')") from None
            if key in self.unsupported_keys:
                raise SpecError(self.source, f"tuning.space.{key}", f"{self._unsupported_message()}")
            _check_range(self, key, self.tuning.space[key])

    def _check_supported(self) -> None:
        defaults = type(self)()
        for key in self.unsupported_keys:
            if get_key(self, key) != get_key(defaults, key):
                raise SpecError(self.source, key, f"is set to {get_key(self, key)!r}, but "
                                f"{self._unsupported_message()}")

    def _unsupported_message(self) -> str:
        return (f"the {self.application!r} application does not use this key "
                f"(it ignores: {', '.join(self.unsupported_keys)}); remove it")

    @property
    def model_name(self) -> str:
        return self.export.model_name or self.name

    @property
    def max_tokens(self) -> int:
        """The longest request an export reads: ``export.max_tokens``, or the
        application's `default_max_tokens` when it is 0."""
        return self.export.max_tokens or self.default_max_tokens


def _choice(spec, key, value, choices):
    if value not in choices:
        raise SpecError(spec.source, key, f"must be one of {list(choices)}, received {value!r}")


def _check_cell(spec, key, name):
    from seqkeras.cells import CELLS, LSTM_VARIANTS

    cell, _, variant = name.partition(":")
    if cell.startswith("lstm-"):
        raise SpecError(spec.source, key, f"write LSTM variants as 'lstm:<variant>', received {name!r} "
                        f"(did you mean {name.replace('-', ':', 1)!r}?)")
    _choice(spec, key, cell, tuple(CELLS))
    if variant and (cell != "lstm" or variant not in LSTM_VARIANTS):
        raise SpecError(spec.source, key, f"only the LSTM has variants, one of "
                        f"{['lstm:' + v for v in LSTM_VARIANTS]}, received {name!r}")


def _check_range(spec, key, value):
    where = f"tuning.space.{key}"
    if isinstance(value, list):
        if not value:
            raise SpecError(spec.source, where, "an empty list of choices")
        return
    if isinstance(value, dict):
        unknown = set(value) - {"min", "max", "step", "sampling"}
        if unknown:
            raise SpecError(spec.source, f"{where}.{sorted(unknown)[0]}",
                            "unknown key (a range takes min, max, step, sampling)")
        if "min" not in value or "max" not in value:
            raise SpecError(spec.source, where, "a range needs both min and max")
        return
    raise SpecError(spec.source, where, f"must be a list of choices or a {{min, max}} table, received {value!r}")


# ---------------------------------------------------------------- dotted keys
def get_key(spec, dotted: str):
    """``get_key(spec, "model.units")`` → ``spec.model.units``; KeyError if absent."""
    value = spec
    for part in dotted.split("."):
        if not dataclasses.is_dataclass(value) or part not in {f.name for f in dataclasses.fields(value)}:
            raise KeyError(dotted)
        value = getattr(value, part)
    return value


def with_overrides(spec, overrides: dict[str, Any]):
    """A deep copy of `spec` with dotted keys replaced (values converted and checked)."""
    spec = copy.deepcopy(spec)
    for dotted, value in overrides.items():
        *parents, last = dotted.split(".")
        owner = spec
        for part in parents:
            owner = getattr(owner, part)
        field = {f.name: f for f in dataclasses.fields(owner)}.get(last)
        if field is None:
            raise SpecError(spec.source, dotted, "unknown key")
        hints = typing.get_type_hints(type(owner))
        setattr(owner, last, _convert(hints[last], value, spec.source, dotted))
    return spec


def to_dict(spec) -> dict:
    """The spec as plain data (for logs and the tuner's record), internal fields dropped."""
    out = {}
    for field in dataclasses.fields(spec):
        if field.metadata.get("internal"):
            continue
        value = getattr(spec, field.name)
        out[field.name] = to_dict(value) if dataclasses.is_dataclass(value) else copy.deepcopy(value)
    return out


# ---------------------------------------------------------------- conversion
def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(tp, value, source, key):
    """Check/convert one TOML value against a dataclass field's type annotation."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, source, key)
            except SpecError as error:
                errors.append(error)
        raise errors[0]
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise SpecError(source, key, f"must be a table, received {value!r}")
        return from_dict(tp, value, source, key)
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise SpecError(source, key, f"must be an array, received {value!r}")
        args = typing.get_args(tp)
        item = args[0] if args else Any
        items = [_convert(item, v, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin or tp) is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise SpecError(source, key, f"must be a table, received {value!r}")
        args = typing.get_args(tp)
        if args:
            return {k: _convert(args[1], v, source, f"{key}.{k}") for k, v in value.items()}
        return dict(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(source, key, f"must be a number, received {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise SpecError(source, key, f"must be an integer, received {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise SpecError(source, key, f"must be true or false, received {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise SpecError(source, key, f"must be a string, received {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise SpecError(source, key, f"must be {_type_name(tp)}, received {value!r}")
    return value


def from_dict(cls, data: dict, source: str | os.PathLike | None = None, prefix: str = ""):
    """Build dataclass `cls` from a (TOML) dict; unknown keys and bad types raise `SpecError`."""
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise SpecError(source, dotted, f"unknown key {dotted!r} (known keys here: {known})")
        kwargs[key] = _convert(hints[key], value, source, dotted)
    return cls(**kwargs)


def read_toml(path: str | os.PathLike) -> dict:
    """Parse a TOML file; syntax errors become `SpecError` naming the file."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise SpecError(path, None, "no such pipeline spec file")
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        raise SpecError(path, None, f"invalid TOML: {error}") from None


def parse_spec(cls, data: dict, source: str | os.PathLike | None = None):
    """`from_dict` + `validate`, recording the source file on the spec."""
    spec = from_dict(cls, data, source)
    spec.source = "" if source is None else str(source)
    if not spec.name:
        spec.name = pathlib.Path(spec.source).stem if spec.source else spec.application
    spec.validate()
    return spec
