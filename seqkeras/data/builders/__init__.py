"""Task dataset builders: tokenized, batched, ready for `model.fit`.

One module per task: `language_model` (Zaremba BPTT windows), `classification`,
`tagging`, `seq2seq`, `time_series`, `sessions`; `batching` holds the shared
shuffle/bucket/prefetch helpers. All are deterministic for a given seed.
"""

from seqkeras.data.builders.classification import classification_batches
from seqkeras.data.builders.language_model import collect_ids, language_model_windows, token_stream
from seqkeras.data.builders.seq2seq import seq2seq_batches
from seqkeras.data.builders.sessions import leave_last_out, session_sequences
from seqkeras.data.builders.tagging import tagging_batches
from seqkeras.data.builders.time_series import TimeSeriesSplits, series_array, time_series_windows
