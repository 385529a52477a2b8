"""`FeatureLayout`: the columns of one forecasting row, shared by data, model and export.

Every row of a series — read from the CSV for training, parsed from a raw CSV line in
the serving graph, or sent as numbers to the ``forecast_tensor`` signature — is one
float32 vector of `FeatureLayout.width` values in this order::

    year, month, day, hour,            the row's time (hour = 0 for daily series)
    <target>,                          the forecast column, original units
    <covariate 1>, ..., <covariate C>, numeric past covariates, original units
    <categorical 1>, ..., <categorical K>   category codes: the index in the column's
                                       training categories; -1 = unknown

NaN marks a missing value anywhere (the model imputes it, see `seqkeras.forecasting.model`).
A history window is ``float32[B, T, width]``, oldest row first; consecutive rows are one
`frequency` step apart.

Example:
    >>> layout = FeatureLayout(target="pm2.5", covariates=("DEWP", "TEMP"),
    ...                        categorical=(("cbwd", ("NE", "NW", "SE", "cv")),), frequency="hour")
    >>> layout.names
    ['year', 'month', 'day', 'hour', 'pm2.5', 'DEWP', 'TEMP', 'cbwd']
    >>> layout.target_index, layout.numeric_slice, layout.categorical_slice
    (4, slice(4, 7, None), slice(7, 8, None))
"""

from __future__ import annotations

import dataclasses

TIME_FEATURES = ("year", "month", "day", "hour")
FREQUENCIES = ("hour", "day")
CALENDAR_FEATURES = ("hour", "day_of_week", "day_of_year")
# A one-column time: the reader and the serving graph (RE2) both match it in full.
ISO_TIME = r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2})(?::(\d{2})(?::(\d{2}))?)?)?"


@dataclasses.dataclass(frozen=True)
class FeatureLayout:
    """The row layout (see the module docstring).

    Attributes:
        target: name of the forecast column.
        covariates: names of the numeric past covariates, in row order.
        categorical: ``((column name, its training categories in code order), ...)``.
        frequency: ``"hour"`` or ``"day"``: the step between consecutive rows.
        calendar: calendar features the model derives from each row's time and from
            the times of the forecast steps (known future covariates), a subset of
            `CALENDAR_FEATURES`.
    """

    target: str
    covariates: tuple[str, ...] = ()
    categorical: tuple[tuple[str, tuple[str, ...]], ...] = ()
    frequency: str = "day"
    calendar: tuple[str, ...] = ("day_of_year",)

    def __post_init__(self):
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"frequency must be one of {FREQUENCIES}, received {self.frequency!r}")
        unknown = set(self.calendar) - set(CALENDAR_FEATURES)
        if unknown:
            raise ValueError(f"calendar features must be among {CALENDAR_FEATURES}, received {sorted(unknown)}")

    @property
    def names(self) -> list[str]:
        """The `width` feature names in row order."""
        return [*TIME_FEATURES, self.target, *self.covariates, *(name for name, _ in self.categorical)]

    @property
    def width(self) -> int:
        return len(TIME_FEATURES) + 1 + len(self.covariates) + len(self.categorical)

    @property
    def target_index(self) -> int:
        return len(TIME_FEATURES)

    @property
    def numeric_slice(self) -> slice:
        """The target and the numeric covariates (normalized by the training statistics)."""
        return slice(self.target_index, self.target_index + 1 + len(self.covariates))

    @property
    def categorical_slice(self) -> slice:
        return slice(self.numeric_slice.stop, self.width)

    @property
    def step_hours(self) -> int:
        """Hours between consecutive rows."""
        return 1 if self.frequency == "hour" else 24
