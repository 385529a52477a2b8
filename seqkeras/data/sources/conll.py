"""CoNLL sources: sentences of column-format corpora (CoNLL-U, CoNLL-2003, WikiANN)."""

from __future__ import annotations

import re

import tensorflow as tf

from seqkeras.data import validation
from seqkeras.data.sources.common import Paths, checked_files, line_dataset

CONLL_FORMATS = {
    # name: (delimiter, token column, tag column, exact column count or None)
    "conllu": ("\t", 1, 3, 10),
    "conll2003": (" ", 0, 3, None),
    "wikiann": ("\t", 0, 1, 2),
}
_CONLLU_ID = re.compile(r"\d+(-\d+|\.\d+)?")
_LANGUAGE_PREFIX = r"^[a-z]{2,3}:"


def _conll_line_checker(format: str, token_column: int, tag_column: int):
    delimiter, _, _, exact = CONLL_FORMATS[format]
    needed = max(token_column, tag_column) + 1

    def check(line: str) -> str | None:
        if not line.strip() or _is_conll_comment(format, line):
            return None
        fields = line.split(delimiter)
        if exact is not None and len(fields) != exact:
            return f"malformed {format} line: expected {exact} {delimiter!r}-separated columns, found {len(fields)}"
        if len(fields) < needed:
            return f"malformed {format} line: expected at least {needed} columns, found {len(fields)}"
        if format == "conllu" and not _CONLLU_ID.fullmatch(fields[0]):
            return f"malformed conllu line: ID {fields[0]!r} is not N, N-M or N.M"
        if not fields[token_column] or not fields[tag_column]:
            return f"malformed {format} line: empty token or tag"
        return None

    return check


def _is_conll_comment(format: str, line: str) -> bool:
    return (format == "conllu" and line.startswith("#")) or (
        format == "conll2003" and line.startswith("-DOCSTART-"))


def conll_sentences(paths: Paths, format: str = "conllu", token_column: int | None = None,
                    tag_column: int | None = None, encoding_errors: str = "replace") -> tf.data.Dataset:
    """Sentences of a column-format corpus as ``{"tokens": string[n], "tags": string[n]}``.

    Formats:
        * ``"conllu"`` (Universal Dependencies): 10 tab-separated columns; ``#``
          comment lines, multiword-token ranges (``3-4``) and empty nodes (``5.1``)
          are skipped; default token FORM (1), tag UPOS (3; use 4 for XPOS).
        * ``"conll2003"``: space-separated ``TOKEN POS CHUNK NER``; ``-DOCSTART-``
          lines skipped; default tag NER (3).
        * ``"wikiann"``: ``lang:TOKEN<TAB>TAG``; the ``lang:`` prefix is removed.

    Sentences are separated by blank lines; a file's last sentence needs none.

    Raises:
        DataError: missing/empty file, invalid UTF-8 (strict), or a malformed line
            (wrong column count, bad CoNLL-U ID), naming file and line.
    """
    if format not in CONLL_FORMATS:
        raise ValueError(f"format must be one of {sorted(CONLL_FORMATS)}, received {format!r}")
    delimiter, default_token, default_tag, _ = CONLL_FORMATS[format]
    token_column = default_token if token_column is None else token_column
    tag_column = default_tag if tag_column is None else tag_column
    files, invalid, _ = checked_files(paths, encoding_errors)
    checker = _conll_line_checker(format, token_column, tag_column)
    for path in files:
        validation.check_lines(path, checker, encoding_errors)

    rows = line_dataset(files, invalid, append_blank=True).batch(_CONLL_CHUNK).map(
        lambda lines: _conll_rows(lines, format, delimiter, token_column, tag_column),
        num_parallel_calls=tf.data.AUTOTUNE)
    empty = tf.zeros([0], tf.string)
    sentences = rows.scan((empty, empty), _cut_sentences).unbatch()
    return sentences.filter(lambda s: tf.size(s["tokens"]) > 0)


_CONLL_CHUNK = 8192


def _conll_rows(lines: tf.Tensor, format: str, delimiter: str, token_column: int, tag_column: int):
    """Vectorized parse of a chunk of lines ``string[b]`` → (blank, token, tag), each ``[b']``.

    Comment, ``-DOCSTART-``, multiword-token and empty-node lines are dropped.
    """
    width = max(token_column, tag_column) + 1
    # One split per line, only as far as the last column used (the rest stays joined).
    parts = tf.strings.split(lines, delimiter, maxsplit=width).to_tensor("", shape=[None, width])
    if format == "conllu":
        skip = (tf.strings.substr(lines, 0, 1) == "#") | tf.strings.regex_full_match(parts[:, 0], r"\d+[-.]\d+")
    elif format == "conll2003":
        skip = tf.strings.substr(lines, 0, 10) == "-DOCSTART-"
    else:
        skip = None
    if skip is not None:
        keep = tf.logical_not(skip)
        lines, parts = tf.boolean_mask(lines, keep), tf.boolean_mask(parts, keep)
    blank = tf.equal(tf.strings.length(tf.strings.strip(lines)), 0)
    tokens = parts[:, token_column]
    if format == "wikiann":
        tokens = tf.strings.regex_replace(tokens, _LANGUAGE_PREFIX, "")
    return blank, tokens, parts[:, tag_column]


def _cut_sentences(carry, rows):
    """Scan step: cut a chunk of rows into the sentences it completes.

    Args:
        carry: (tokens, tags) ``string[c]`` of the sentence still open from before.
        rows: (blank ``bool[b]``, token ``string[b]``, tag ``string[b]``).

    Returns:
        The new carry (the chunk's unfinished sentence) and the completed sentences
        as ``{"tokens", "tags"}`` ragged ``string[s, None]`` (some possibly empty).
    """
    carry_tokens, carry_tags = carry
    blank, tokens, tags = rows
    blank = tf.concat([tf.zeros_like(carry_tokens, tf.bool), blank], 0)
    tokens = tf.concat([carry_tokens, tokens], 0)
    tags = tf.concat([carry_tags, tags], 0)
    sentence = tf.cumsum(tf.cast(blank, tf.int64))
    n_complete = sentence[-1] if tf.size(sentence) > 0 else tf.constant(0, tf.int64)
    word = tf.logical_not(blank)
    done = word & (sentence < n_complete)
    still_open = word & (sentence == n_complete)

    def ragged(values):
        return tf.RaggedTensor.from_value_rowids(tf.boolean_mask(values, done),
                                                 tf.boolean_mask(sentence, done), nrows=n_complete)

    new_carry = (tf.boolean_mask(tokens, still_open), tf.boolean_mask(tags, still_open))
    return new_carry, {"tokens": ragged(tokens), "tags": ragged(tags)}
