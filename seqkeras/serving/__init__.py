"""Shared export machinery for every application (SPEC §6).

* `Exporter`: the base of every application's serving module; ``export`` writes,
  reloads, checks the signatures and replays the warm-up requests before publishing.
* `write_versioned`: atomic ``saved_models/<model_name>/<version>/`` export with the
  "auto" version policy and TF Serving warmup requests.
* `WarmupRequest`, `write_warmup_requests`, `read_warmup_requests`: the
  ``assets.extra/tf_serving_warmup_requests`` TFRecord of ``PredictionLog`` protos,
  encoded without tensorflow-serving-api.
* `saved_model_cli_show`: the text of ``saved_model_cli show --all``.
"""

from seqkeras.serving.exporter import Exporter, frequent_words, validate_export
from seqkeras.serving.inspect import saved_model_cli_show
from seqkeras.serving.versioning import (clean_stale_temporaries, list_versions, next_version,
                                         write_versioned)
from seqkeras.serving.warmup import (WarmupRequest, decode_prediction_log, encode_prediction_log,
                                     read_warmup_requests, run_warmup_requests, write_warmup_requests)
