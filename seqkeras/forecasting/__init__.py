"""Time-series forecasting: recurrent multi-horizon forecasters against naive baselines.

``seqkeras run pipelines/pm25_forecast.toml`` reads a CSV series (`data`), trains a
seqkeras recurrent encoder with a direct or decoder head that forecasts quantiles
(`model`), scores it beside persistence, seasonal naive, window mean and climatology on
the same rolling origins (`evaluation`), and exports a SavedModel that takes the raw CSV
rows of a history window (`server`). `layout` fixes the row layout all of them share.
"""

from seqkeras.forecasting.application import ForecastingApplication

__all__ = ["ForecastingApplication"]
