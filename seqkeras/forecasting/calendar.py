"""Civil-date arithmetic in TensorFlow ops: the forecaster's calendar features.

The model sees only the raw ``year, month, day, hour`` columns of a row (see
`seqkeras.forecasting.layout`), so the day of the week, the day of the year and the
times of the forecast steps are computed inside the graph — the exported model then
needs no Python date code at serving time. Dates convert to a day count with Howard
Hinnant's ``days_from_civil`` / ``civil_from_days`` (proleptic Gregorian calendar,
exact integer arithmetic for any year; https://howardhinnant.github.io/date_algorithms.html),
and everything else is arithmetic on day and hour counts.

Integer functions take integer (or integral float) tensors of any shape and return
int32; day 0 is 1970-01-01.

Example:
    >>> int(days_from_civil(2000, 3, 1))
    11017
    >>> [int(v) for v in civil_from_days(11017)]
    [2000, 3, 1]
    >>> int(day_of_week(days_from_civil(2000, 3, 1)))  # 0 = Monday: a Wednesday
    2
"""

from __future__ import annotations

import math

import tensorflow as tf

from seqkeras.forecasting.layout import CALENDAR_FEATURES

# The cycle of each calendar feature, in its own unit. A year is 365.25 days (the mean
# Julian year, within 0.01 day of the Gregorian mean 365.2425): one fixed period for
# common and leap years alike, so the same date has almost the same angle every year.
# The price is a small seam at New Year: from the last day to day 1 the angle moves by
# 1.25 days (after day 365) or 0.25 days (after day 366) instead of exactly one.
PERIODS = {"hour": 24.0, "day_of_week": 7.0, "day_of_year": 365.25}

_EPOCH_SHIFT = 719468  # days from 0000-03-01 to 1970-01-01 (Hinnant)
_DAYS_PER_ERA = 146097  # 400 Gregorian years


def _as_int(value) -> tf.Tensor:
    """Any numeric tensor → int32 (floats floored, so 2010.0 → 2010)."""
    value = tf.convert_to_tensor(value)
    if value.dtype.is_floating:
        value = tf.floor(value)
    return tf.cast(value, tf.int32)


def days_from_civil(year, month, day) -> tf.Tensor:
    """Days since 1970-01-01 of the Gregorian date (year, month 1–12, day 1–31).

    Hinnant's algorithm: count years from March so that the leap day is the last day
    of the counted year, then split into 400-year eras of 146097 days.

    Args:
        year, month, day: integer tensors (broadcastable), any shape.

    Returns:
        int32 tensor of the broadcast shape; negative before 1970.
    """
    year, month, day = _as_int(year), _as_int(month), _as_int(day)
    year = year - tf.cast(month <= 2, tf.int32)
    era = tf.math.floordiv(year, 400)  # floor division: also right for years < 0
    year_of_era = year - era * 400  # [0, 399]
    march_month = tf.where(month > 2, month - 3, month + 9)  # March = 0 ... February = 11
    day_of_march_year = (153 * march_month + 2) // 5 + day - 1  # [0, 365]
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_march_year
    return era * _DAYS_PER_ERA + day_of_era - _EPOCH_SHIFT


def civil_from_days(days) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The inverse of `days_from_civil`: days since 1970-01-01 → (year, month, day), int32."""
    days = _as_int(days) + _EPOCH_SHIFT
    era = tf.math.floordiv(days, _DAYS_PER_ERA)
    day_of_era = days - era * _DAYS_PER_ERA  # [0, 146096]
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096) // 365
    day_of_march_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    march_month = (5 * day_of_march_year + 2) // 153
    day = day_of_march_year - (153 * march_month + 2) // 5 + 1
    month = tf.where(march_month < 10, march_month + 3, march_month - 9)
    year = year_of_era + era * 400 + tf.cast(month <= 2, tf.int32)
    return year, month, day


def day_of_year(year, month, day) -> tf.Tensor:
    """1-based day of the year (1 = January 1st, up to 366), int32."""
    year = _as_int(year)
    return days_from_civil(year, month, day) - days_from_civil(year, tf.ones_like(year), tf.ones_like(year)) + 1


def day_of_week(days) -> tf.Tensor:
    """Day of the week of a day count, int32, 0 = Monday ... 6 = Sunday (1970-01-01 was a Thursday)."""
    return tf.math.floormod(_as_int(days) + 3, 7)


def calendar_features(year, month, day, hour, names) -> tf.Tensor:
    """Cyclic encodings of a time: ``sin, cos`` of 2π·value/period per feature.

    Sine and cosine together place the value on a circle, so the last hour of a day
    sits next to the first one (a raw hour would put them 23 apart). Values and
    periods (`PERIODS`): ``"hour"`` 0–23 / 24, ``"day_of_week"`` 0–6 (0 = Monday) / 7,
    ``"day_of_year"`` 1–366 / 365.25.

    Args:
        year, month, day, hour: float tensors of the same shape ``[...]`` (the row's
            time columns; ``hour`` 0 for daily series).
        names: a sequence of `CALENDAR_FEATURES` names.

    Returns:
        float32 ``[..., 2·len(names)]``: ``sin, cos`` of ``names[0]``, then of ``names[1]``, ...
    """
    unknown = [name for name in names if name not in CALENDAR_FEATURES]
    if unknown:
        raise ValueError(f"Argument `names` must be among {CALENDAR_FEATURES}, received names={list(names)!r}")
    year = tf.convert_to_tensor(year)
    if not names:
        return tf.zeros(tf.concat([tf.shape(year), [0]], 0), tf.float32)
    columns = []
    for name in names:
        if name == "hour":
            value = tf.cast(hour, tf.float32)
        elif name == "day_of_week":
            value = tf.cast(day_of_week(days_from_civil(year, month, day)), tf.float32)
        else:
            value = tf.cast(day_of_year(year, month, day), tf.float32)
        angle = (2.0 * math.pi / PERIODS[name]) * value
        columns += [tf.sin(angle), tf.cos(angle)]
    return tf.stack(columns, axis=-1)


def future_times(year, month, day, hour, step_hours: int, horizon: int):
    """The times of the `horizon` steps after a row's time.

    Step k (1-based) is ``time + k·step_hours`` hours, computed on hour counts since
    1970-01-01 so month, year and leap-day boundaries come out right.

    Args:
        year, month, day, hour: float tensors ``[B]``: the time of the last history row.
        step_hours: hours between consecutive rows (1 hourly, 24 daily).
        horizon: H, the number of future steps.

    Returns:
        ``(year, month, day, hour)``, float32 ``[B, H]`` each.
    """
    if isinstance(step_hours, bool) or not isinstance(step_hours, int) or step_hours < 1:
        raise ValueError(f"Argument `step_hours` must be a positive integer, received step_hours={step_hours!r}")
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"Argument `horizon` must be a positive integer, received horizon={horizon!r}")
    hours = days_from_civil(year, month, day) * 24 + _as_int(hour)  # [B]
    offsets = tf.range(1, horizon + 1, dtype=tf.int32) * step_hours  # [H]
    future = hours[..., None] + offsets  # [B, H]
    days = tf.math.floordiv(future, 24)
    year, month, day = civil_from_days(days)
    hour = tf.math.floormod(future, 24)
    return tuple(tf.cast(v, tf.float32) for v in (year, month, day, hour))
