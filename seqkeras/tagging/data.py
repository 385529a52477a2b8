"""Tagging data: CoNLL-style files → sentences (tags converted) → vocabularies → id batches.

Everything streams through tf.data: the sentences come from
`seqkeras.data.conll_sentences` (malformed lines raise `DataError` with file and
line), the tag scheme is converted in the graph (`schemes.convert_tensor`), and the
word, character and tag vocabularies are counted over the training split with
`Vocabulary.build` (memory bounded by the distinct tokens). Batches come from
`seqkeras.data.tagging_batches` (length-bucketed, character ids per token; the parsed
sentences are cached in memory by the first pass) as ``({"tokens": int64[B, T], "chars":
int64[B, T, C]}, tags int32[B, T])``.

Files of a run (in the run directory): ``vocabulary.txt`` (words), ``characters.txt``,
``tags.txt`` — each loaded instead of rebuilt when present (`seqkeras.data.load_or_fit`),
so that evaluation and export use the training run's ids.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import pathlib
import re

import tensorflow as tf

from seqkeras.data import DataError, Vocabulary, conll_sentences, load_or_fit, resolve_path, tagging_batches
from seqkeras.data.builders.tagging import word_characters
from seqkeras.data.sources import CONLL_FORMATS
from seqkeras.data.validation import iter_lines
from seqkeras.pipeline.data import Data
from seqkeras.pipeline.run_paths import VOCABULARY_FILE
from seqkeras.tagging.schemes import convert_tensor, split_tag

SHUFFLE_BUFFER = 100_000  # sentences


@dataclasses.dataclass(kw_only=True)
class TaggingData(Data):
    """The tagging batches and the vocabularies the model, evaluation and export share.

    Attributes:
        train, validation: batches ``({"tokens": int64[B, T], "chars": int64[B, T, C]},
            tags int32[B, T])``.
        words: the word `Vocabulary` (0 = pad, 1 = unk); chars: the character one.
        tags: tag strings in class-index order (``O`` first when present).
        vocabulary_size, char_vocabulary_size, num_tags: their sizes.
        train_sentences, validation_sentences, train_tokens, validation_tokens: counts.
    """

    words: Vocabulary
    chars: Vocabulary
    tags: list[str]
    vocabulary_size: int
    char_vocabulary_size: int
    num_tags: int
    train_sentences: int
    validation_sentences: int
    train_tokens: int
    validation_tokens: int


def read_sentences(path: str | os.PathLike, format: str, token_column: int = -1, tag_column: int = -1,
                   tag_format: str = "none", tag_scheme: str = "none") -> tf.data.Dataset:
    """The sentences of a column file, tags converted from `tag_format` to `tag_scheme`.

    Returns:
        `tf.data.Dataset` of ``{"tokens": string[n], "tags": string[n]}``.
    """
    sentences = conll_sentences(str(path), format=format,
                                token_column=None if token_column < 0 else token_column,
                                tag_column=None if tag_column < 0 else tag_column)
    if tag_format == tag_scheme:
        return sentences
    return sentences.map(lambda s: {"tokens": s["tokens"], "tags": convert_tensor(s["tags"], tag_format, tag_scheme)},
                         num_parallel_calls=tf.data.AUTOTUNE)


def count_sentences(sentences: tf.data.Dataset) -> tuple[int, int]:
    """(sentences, tokens) of a sentence dataset, in one streamed pass."""
    sentence_count, token_count = sentences.reduce(
        (tf.constant(0, tf.int64), tf.constant(0, tf.int64)),
        lambda totals, s: (totals[0] + 1, totals[1] + tf.size(s["tokens"], out_type=tf.int64)))
    return int(sentence_count), int(token_count)


def tag_inventory(*splits: tf.data.Dataset) -> list[str]:
    """The tag set of sentence datasets in class-index order: ``O`` first (when present), then sorted."""
    all_tags = splits[0].map(lambda s: s["tags"])
    for split in splits[1:]:
        all_tags = all_tags.concatenate(split.map(lambda s: s["tags"]))
    tags = set(Vocabulary.build(all_tags).tokens[2:])  # after "<pad>", "<unk>"
    return (["O"] if "O" in tags else []) + sorted(tags - {"O"})


def _save_list(items: list[str], path: pathlib.Path) -> None:
    path.write_text("".join(item + "\n" for item in items), encoding="utf-8")


def _load_list(path: pathlib.Path) -> list[str]:
    items = path.read_text(encoding="utf-8").split("\n")[:-1]
    if not items:
        raise DataError(path, None, "empty tag list")
    return items


def build_data(spec, data_dir: str | os.PathLike | None = None,
               run_dir: str | os.PathLike | None = None) -> TaggingData:
    """Read, convert, count, batch.

    Args:
        spec: a `seqkeras.tagging.Spec`.
        data_dir: the data directory; None = `resolve_data_dir()`.
        run_dir: the run directory holding ``vocabulary.txt``, ``characters.txt`` and
            ``tags.txt``; each loaded when present, written otherwise; None = not persisted.

    Returns:
        `TaggingData` with the batches, vocabularies, tag list and counts.
    """
    d, t = spec.data, spec.training
    train_path = resolve_path(d.train, data_dir)
    read = lambda path: read_sentences(path, d.format, d.token_column, d.tag_column,  # noqa: E731
                                       d.tag_format, d.tag_scheme)
    # The parsed, converted sentences stay in memory after the first (counting) pass:
    # counting the vocabularies and every training epoch then read the cache.
    train = read(train_path).cache()
    train_sentences, train_tokens = count_sentences(train)
    if not train_sentences:
        raise DataError(train_path, None, "the training file has no sentences")
    if d.validation:
        validation = read(resolve_path(d.validation, data_dir)).cache()
        validation_sentences, validation_tokens = count_sentences(validation)
    else:
        keep = train_sentences - max(1, int(round(train_sentences * d.validation_fraction)))
        train, validation = train.take(keep), train.skip(keep)
        validation_sentences, validation_tokens = count_sentences(validation)
        train_sentences, train_tokens = keep, train_tokens - validation_tokens

    run_file = lambda name: None if run_dir is None else pathlib.Path(run_dir) / name  # noqa: E731
    tokens = train.map(lambda s: s["tokens"])
    words = load_or_fit(run_file(VOCABULARY_FILE), lambda: Vocabulary.build(
        tokens.map(lambda w: tf.strings.lower(w, encoding="utf-8")) if d.lowercase else tokens,
        d.min_count, d.max_vocabulary or None))
    chars = load_or_fit(run_file("characters.txt"), lambda: Vocabulary.build(
        tokens.map(lambda words: word_characters(words, d.max_word_length))))
    data_tags = tag_inventory(train, validation)
    tags = load_or_fit(run_file("tags.txt"), lambda: data_tags, load=_load_list, save=_save_list)
    unknown = set(data_tags) - set(tags)
    if unknown:
        raise DataError(train_path, None, f"tags {sorted(unknown)} are not in the run's tags.txt")

    # The shuffle holds up to SHUFFLE_BUFFER sentences (all of UD EWT, CoNLL-2003 and
    # WikiANN). Character ids are always in the batches (a model without character features
    # ignores them), so tuning can switch `model.char_features` on the same data.
    def batches(sentences, count, shuffle):
        return tagging_batches(sentences, words, tags, t.batch_size, char_vocabulary=chars,
                               max_word_length=d.max_word_length, lowercase=d.lowercase,
                               shuffle_buffer=min(count, SHUFFLE_BUFFER) if shuffle else None, seed=t.seed)

    train_batches = batches(train, train_sentences, shuffle=True)
    if t.steps_per_epoch:
        train_batches = train_batches.repeat()
    return TaggingData(train=train_batches, validation=batches(validation, validation_sentences, shuffle=False),
                       words=words, chars=chars, tags=tags, vocabulary_size=len(words),
                       char_vocabulary_size=len(chars), num_tags=len(tags), train_sentences=train_sentences,
                       validation_sentences=validation_sentences, train_tokens=train_tokens,
                       validation_tokens=validation_tokens)


SNIFF_LINES = 5_000
_LANGUAGE_TOKEN = re.compile(r"[a-z]{2,3}:\S")


def detect_format(path: str | pathlib.Path, lines: int = SNIFF_LINES) -> dict[str, str]:
    """The column format and tag scheme of a tagging file, read from its first lines.

    Formats: ``.conllu`` or 10 tab-separated columns → ``"conllu"``; 4 space-separated
    columns (``-DOCSTART-`` lines allowed) → ``"conll2003"``; ``lang:TOKEN<TAB>TAG`` →
    ``"wikiann"``. Tags without B-/I-/E-/S- prefixes → ``tag_format = tag_scheme =
    "none"``; otherwise the file's scheme (E-/S- → ``"bioes"``; a B- tag after ``O`` or
    at a sentence start → ``"iob2"``; else ``"iob1"``) and ``tag_scheme = "bioes"``.

    Args:
        path: the file (``.gz`` is read compressed).
        lines: how many lines to read.

    Returns:
        ``{"format", "tag_format", "tag_scheme"}``.

    Raises:
        ValueError: the lines fit none of the formats (the first token line is quoted).
    """
    path = pathlib.Path(path)
    rows = [text for _, text in itertools.islice(iter_lines(path), lines)]
    content = [text for text in rows if text.strip() and not text.startswith(("#", "-DOCSTART-"))]
    if not content:
        raise ValueError(f"{path}: no token lines in its first {lines} lines")
    conllu = path.name.endswith((".conllu", ".conllu.gz")) or all(len(t.split("\t")) == 10 for t in content)
    if conllu:
        format = "conllu"
    elif all(len(t.split(" ")) == 4 for t in content):
        format = "conll2003"
    elif all(len(t.split("\t")) == 2 and _LANGUAGE_TOKEN.match(t) for t in content):
        format = "wikiann"
    else:
        raise ValueError(
            f"{path}: not a tagging file seqkeras reads: expected CoNLL-U (10 tab-separated columns), "
            f"CoNLL-2003 (TOKEN POS CHUNK NER, space-separated) or WikiANN (lang:TOKEN<TAB>TAG) lines, "
            f"found {content[0][:80]!r}")
    delimiter, _, column, _ = CONLL_FORMATS[format]
    # Tag sequences of the sentences read (blank lines separate them; "" marks a start).
    tags = [""]
    for text in rows:
        if text.startswith(("#", "-DOCSTART-")) or (format == "conllu" and re.match(r"\d+[-.]", text)):
            continue
        fields = text.split(delimiter)
        if not text.strip():
            tags.append("")
        elif len(fields) > column:
            tags.append(fields[column])
    return {"format": format, **_tag_scheme(tags)}


def _tag_scheme(tags: list[str]) -> dict[str, str]:
    """``{"tag_format", "tag_scheme"}`` of a tag column ("" between sentences)."""
    prefixes = {split_tag(tag)[0] for tag in tags if split_tag(tag)[1]}
    if not prefixes:
        return {"tag_format": "none", "tag_scheme": "none"}
    if prefixes & {"E", "S"}:
        file_scheme = "bioes"
    else:
        # IOB1 writes B- only after a chunk of the same type, IOB2 at every chunk's start.
        after_outside = any(split_tag(tag)[0] == "B" and previous in ("", "O") for previous, tag in zip(tags, tags[1:]))
        file_scheme = "iob2" if after_outside else "iob1"
    return {"tag_format": file_scheme, "tag_scheme": "bioes"}
