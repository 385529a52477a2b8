"""Streaming tf.data sources: corpora in, tf.data datasets of strings out.

Each source checks its files once in Python (constant memory, see `validation`) so
bad input raises a `DataError` naming file and line, then reads them with tf.data ops
(`TextLineDataset`, `CsvDataset`): the corpus is never held as a Python list.
`file_set` reads a directory of text files split by file (validation files unseen).
"""

from seqkeras.data.sources.common import READ_BUFFER_BYTES, PathLike, Paths
from seqkeras.data.sources.conll import CONLL_FORMATS, conll_sentences
from seqkeras.data.sources.dispatch import SOURCE_KINDS, source_from_spec
from seqkeras.data.sources.file_set import FileSet, FileSplit, file_lines, split_files
from seqkeras.data.sources.interactions import interaction_log
from seqkeras.data.sources.labelled import MISSING_VALUES, csv_column, labelled_text
from seqkeras.data.sources.parallel import parallel_lines
from seqkeras.data.sources.text import text_characters, text_lines
from seqkeras.data.sources.tfds import tfds_source
from seqkeras.data.sources.time_series import time_series_csv
from seqkeras.data.sources.ts_format import TsHeader, ts_header, ts_series
