"""tf.data ingestion: corpora in, tokenized and batched datasets out.

* `paths`: the data directory setting (``--data-dir``, ``$SEQKERAS_DATA``, default).
* `sources`: streaming tf.data readers for text, CoNLL, parallel, labelled, time
  series, interaction logs and TFDS.
* `vocabulary`: `Vocabulary` counted from a stream, saved/loaded, looked up in-graph;
  `load_or_fit` (a run directory's saved vocabulary, else a fitted one saved there).
* `tokenizers`: word, character and subword tokenizers usable in a SavedModel.
* `builders`: task datasets (language model windows, classification, tagging,
  seq2seq, time-series windows, sessions).
* `errors`: `DataError`, raised for every bad input with file and line.
"""

from seqkeras.data.builders import (TimeSeriesSplits, classification_batches, language_model_windows,
                                    leave_last_out, seq2seq_batches, session_sequences, tagging_batches,
                                    time_series_windows, token_stream)
from seqkeras.data.errors import DataError, MissingDataError
from seqkeras.data.paths import expand_paths, resolve_data_dir, resolve_path
from seqkeras.data.sources import (conll_sentences, interaction_log, labelled_text, parallel_lines,
                                   source_from_spec, text_characters, text_lines, tfds_source,
                                   time_series_csv)
from seqkeras.data.sources.ts_format import TsHeader, ts_header, ts_series
from seqkeras.data.subwords import SubwordTokenizer, learn_wordpieces
from seqkeras.data.tokenizers import CharacterTokenizer, Tokenizer, WordTokenizer
from seqkeras.data.vocabulary import BOS, EOS, PAD, UNK, TokenLookup, Vocabulary, load_or_fit
