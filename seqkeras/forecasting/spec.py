"""The forecasting pipeline spec: a CSV series, its chronological spans, the forecaster.

Example TOML (see ``pipelines/pm25_forecast.toml``, ``pipelines/melbourne_temperature.toml``)::

    application = "forecasting"
    name = "pm25_forecast"

    [data]
    path = "timeseries/pollution.csv.gz"
    time_columns = ["year", "month", "day", "hour"]   # or one ISO column: ["Date"]
    frequency = "hour"
    target = "pm2.5"
    covariates = ["DEWP", "TEMP", "PRES", "Iws", "Is", "Ir"]
    categorical = ["cbwd"]
    validation_start = "2013-01-01"     # train = every row before; validation up to test_start
    test_start = "2014-01-01"           # the test span: final evaluation only
    history = 96
    horizon = 24

    [model]
    cell = "gru"
    head = "direct"                     # "direct" (all H steps at once) | "decoder"
    quantiles = [0.1, 0.5, 0.9]         # [] = a point forecast (loss "mae" or "mse")

    [evaluation]
    span = "validation"                 # "validation" | "test" | "START..END" (dates)
    stride = 7                          # rows between rolling origins
"""

from __future__ import annotations

import dataclasses
import datetime

from seqkeras.forecasting.layout import CALENDAR_FEATURES, FREQUENCIES
from seqkeras.pipeline.spec import JIT_COMPILE, PipelineSpec, SpecError, TrainingSpec, TuningSpec

KINDS = ("rnn", "dilated_cnn")
# The model keys each encoder kind reads, beyond those both share (a dilated_cnn has
# the direct head only, so model.head is the recurrent encoder's to tune).
KIND_KEYS = {
    "rnn": ("model.cell", "model.cell_options", "model.bidirectional", "model.head"),
    "dilated_cnn": ("model.kernel_size", "model.dilation_cycle"),
}
HEADS = ("direct", "decoder")
LOSSES = ("pinball", "mae", "mse")
CLIMATOLOGY_KEYS = ("hour", "day_of_year", "calendar_day")
SPANS = ("validation", "test")


@dataclasses.dataclass
class DataSpec:
    """The series file, its columns, spans and windows."""

    path: str = ""                     # CSV with a header (plain or .gz), data-dir relative
    time_columns: list[str] = dataclasses.field(default_factory=list)  # one ISO date/time column, or
                                       # the year, month, day[, hour] columns in that order
    frequency: str = "day"             # "hour" | "day": one row per step; a gap becomes missing rows
    target: str = ""                   # the forecast column
    covariates: list[str] = dataclasses.field(default_factory=list)    # numeric past covariates
    categorical: list[str] = dataclasses.field(default_factory=list)   # categorical past covariates
    calendar: list[str] = dataclasses.field(default_factory=lambda: ["day_of_year"])  # known future
                                       # covariates from the time: "hour", "day_of_week", "day_of_year"
    missing_values: list[str] = dataclasses.field(default_factory=lambda: ["", "NA", "NaN", "nan"])
    validation_start: str = ""         # ISO date: the first validation row
    test_start: str = ""               # ISO date: the first test row (never trained or tuned on)
    history: int = 64                  # T, rows the model reads
    horizon: int = 7                   # H, steps it forecasts
    train_stride: int = 1              # rows between training windows
    season: int = 0                    # rows per season for the seasonal baselines; 0 = 24 (hourly) / 365
    climatology: str = ""              # the climatology baseline's key: "hour", "day_of_year" or
                                       # "calendar_day" (month and day); "" = hour (hourly) / day_of_year
    shuffle_buffer: int = 50000


@dataclasses.dataclass
class ModelSpec:
    """History rows → features → encoder → direct or decoder head → quantiles.

    The encoder (`KINDS`): ``"rnn"``, stacked recurrent cells; ``"dilated_cnn"``, a
    WaveNet-style causal dilated convolution stack (`seqkeras.layers.DilatedCausalConv`)
    whose last step, reading the last 1 + (kernel_size − 1)·Σ dilations rows, feeds the
    direct head.
    """

    kind: str = "rnn"                  # "rnn" | "dilated_cnn" (direct head, unidirectional only)
    cell: str = "gru"                  # rnn: a key of seqkeras.cells.CELLS, or "lstm:<variant>"
    cell_options: dict = dataclasses.field(default_factory=dict)
    units: int = 64                    # rnn: state size; dilated_cnn: channels
    layers: int = 1                    # rnn: levels; dilated_cnn: gated layers (dilations 1, 2, 4, …)
    kernel_size: int = 2               # dilated_cnn: taps per layer
    dilation_cycle: int = 0            # dilated_cnn: restart the dilations at 1 after this many layers (0 = never)
    bidirectional: bool = False        # bidirectional encoder (the decoder runs forward)
    head: str = "direct"               # "direct" | "decoder"
    dropout: float = 0.0               # between recurrent levels and before the head
    residual: bool = True              # forecast the change from the last observed value
    quantiles: list[float] = dataclasses.field(default_factory=lambda: [0.1, 0.5, 0.9])  # 0.5 = the forecast
    loss: str = "pinball"              # "pinball" (needs quantiles) | "mae" | "mse" (point forecast)
    jit_compile: str = "auto"          # "auto" | "true" | "false" for the recurrent loops


@dataclasses.dataclass
class EvaluationSpec:
    """Rolling-origin evaluation (and backtests: ``seqkeras evaluate --set evaluation.span=...``)."""

    span: str = "validation"           # "validation" | "test" | "START..END" (ISO dates, END inclusive)
    stride: int = 1                    # rows between origins
    plots: bool = True                 # forecast and error-by-horizon PNGs in the run directory
    plot_origins: int = 3


@dataclasses.dataclass
class ForecastingTuningSpec(TuningSpec):
    # The point forecast's MAE: comparable across trials whatever their loss.
    objective: str = "val_mae"
    space: dict = dataclasses.field(default_factory=lambda: {
        "model.cell": ["gru", "lstm"],
        "model.units": [32, 64],
        "model.layers": [1, 2],
        "model.head": ["direct", "decoder"],
        "data.history": [72, 120],
        "model.dropout": [0.0, 0.2],
        "training.learning_rate": {"min": 3e-4, "max": 3e-3, "sampling": "log"},
    })


@dataclasses.dataclass
class Spec(PipelineSpec):
    """A forecasting pipeline. Requests are T CSV rows, not tokens: no token limit."""

    unsupported_keys = ("export.max_tokens",)
    kind_keys = KIND_KEYS

    application: str = "forecasting"
    data: DataSpec = dataclasses.field(default_factory=DataSpec)
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    evaluation: EvaluationSpec = dataclasses.field(default_factory=EvaluationSpec)
    training: TrainingSpec = dataclasses.field(default_factory=lambda: TrainingSpec(batch_size=64))
    tuning: ForecastingTuningSpec = dataclasses.field(default_factory=ForecastingTuningSpec)

    def validate(self) -> None:
        super().validate()
        d, m = self.data, self.model
        for key in ("path", "target", "validation_start", "test_start"):
            if not getattr(d, key):
                raise SpecError(self.source, f"data.{key}", "missing")
        if len(d.time_columns) not in (1, 3, 4):
            raise SpecError(self.source, "data.time_columns", "name one ISO date/time column or the year, "
                            f"month, day[, hour] columns, received {d.time_columns}")
        self.check_choices([
            ("data.frequency", d.frequency, FREQUENCIES),
            ("model.kind", m.kind, KINDS),
            ("model.head", m.head, HEADS),
            ("model.loss", m.loss, LOSSES),
            ("model.jit_compile", m.jit_compile, tuple(JIT_COMPILE)),
        ] + [("data.calendar", name, CALENDAR_FEATURES) for name in d.calendar]
          + ([("data.climatology", d.climatology, CLIMATOLOGY_KEYS)] if d.climatology else []))
        if d.frequency == "day" and "hour" in d.calendar:
            raise SpecError(self.source, "data.calendar", "a daily series has no hour of day")
        self.check_cells("model.cell")
        self.check_fraction("model.dropout")
        self.check_at_least(1, "data.history", "data.horizon", "data.train_stride", "model.units",
                            "model.layers", "evaluation.stride", "evaluation.plot_origins")
        self.check_at_least(0, "data.season", "data.shuffle_buffer", "model.dilation_cycle")
        self.check_at_least(2, "model.kernel_size")
        if m.kind == "dilated_cnn":
            # A causal convolution reads forwards only and has no state to start a decoder.
            if m.bidirectional:
                raise SpecError(self.source, "model.bidirectional", "model.kind = 'dilated_cnn' is causal: set false")
            if m.head != "direct":
                raise SpecError(self.source, "model.head", "model.kind = 'dilated_cnn' needs the 'direct' head")
        start, test = (parse_date(self, f"data.{k}", getattr(d, k)) for k in ("validation_start", "test_start"))
        if test <= start:
            raise SpecError(self.source, "data.test_start", f"must be after validation_start ({d.validation_start})")
        quantiles = m.quantiles
        if any(not 0.0 < q < 1.0 for q in quantiles) or sorted(set(quantiles)) != list(quantiles):
            raise SpecError(self.source, "model.quantiles", f"must be distinct levels in (0, 1), ascending, "
                            f"received {quantiles}")
        if quantiles and 0.5 not in quantiles:
            raise SpecError(self.source, "model.quantiles", f"must include 0.5, the median that is the "
                            f"point forecast, received {quantiles}")
        if m.loss == "pinball" and not quantiles:
            raise SpecError(self.source, "model.loss", "'pinball' needs model.quantiles (or use 'mae'/'mse')")
        if m.loss != "pinball" and quantiles:
            raise SpecError(self.source, "model.quantiles", f"loss {m.loss!r} trains a point forecast: set "
                            "quantiles = [] or use loss = 'pinball'")
        self.evaluation_span()

    @property
    def season(self) -> int:
        """Rows per season of the seasonal baselines (a day of hours, a year of days)."""
        return self.data.season or (24 if self.data.frequency == "hour" else 365)

    @property
    def climatology_key(self) -> str:
        return self.data.climatology or ("hour" if self.data.frequency == "hour" else "day_of_year")

    def evaluation_span(self) -> tuple[datetime.date, datetime.date] | str:
        """``"validation"``, ``"test"`` or the (first, last) dates of ``evaluation.span``."""
        span = self.evaluation.span
        if span in SPANS:
            return span
        first, sep, last = span.partition("..")
        if not sep:
            raise SpecError(self.source, "evaluation.span", f"must be one of {list(SPANS)} or "
                            f"'START..END' (ISO dates), received {span!r}")
        first, last = (parse_date(self, "evaluation.span", text) for text in (first, last))
        if last < first:
            raise SpecError(self.source, "evaluation.span", f"ends before it starts: {span!r}")
        return first, last


def parse_date(spec, key: str, text: str) -> datetime.date:
    """An ISO date of a spec key, or a `SpecError` naming the key."""
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        raise SpecError(spec.source, key, f"is not an ISO date (YYYY-MM-DD): {text!r}") from None
