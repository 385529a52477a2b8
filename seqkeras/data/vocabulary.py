"""Token vocabularies: counted from a tf.data stream, saved as text, looked up in-graph.

Ids are positions in `Vocabulary.tokens`. The reserved tokens come first, in the
order given: ``<pad>`` = 0 and ``<unk>`` = 1 always, then optionally ``<bos>`` and
``<eos>``. The other tokens follow by decreasing training count, ties broken by the
token's text, so the same training split always gives the same ids.

File format (`save` / `load`): UTF-8 text, one ``token<TAB>count`` per line, line
number - 1 = id. Backslash, tab, newline and carriage return inside a token are
written as ``\\\\``, ``\\t``, ``\\n``, ``\\r`` (character vocabularies contain them).
"""

from __future__ import annotations

import collections
import os
import pathlib
from typing import Callable, Iterable, Sequence, TypeVar

import keras
import tensorflow as tf

from seqkeras.data.errors import DataError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
PAD_ID, UNK_ID = 0, 1
DEFAULT_RESERVED = (PAD, UNK)
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_COUNT_BATCH = 1024


def _escape(token: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in token)


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out, chars = [], iter(text)
    for ch in chars:
        out.append(_UNESCAPES.get(next(chars, "\\"), "\\") if ch == "\\" else ch)
    return "".join(out)


def _flatten(tokens) -> tf.Tensor:
    if isinstance(tokens, tf.RaggedTensor):
        tokens = tokens.flat_values
    return tf.reshape(tokens, [-1])


def _flat_token_batches(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Rebatch any token dataset into flat ``string[n]`` vectors of many tokens."""
    spec = dataset.element_spec
    if spec.dtype != tf.string:
        raise TypeError(f"Vocabulary.build needs a dataset of string tokens, received {spec}")
    if spec.shape.rank == 0:
        dataset = dataset.batch(_COUNT_BATCH * 64)
    elif spec.shape.rank == 1 and not isinstance(spec, tf.RaggedTensorSpec):
        dataset = dataset.ragged_batch(_COUNT_BATCH)
    return dataset.map(_flatten)


class Vocabulary:
    """An ordered token list with training counts and reserved tokens.

    Args:
        tokens: all tokens, index = id; must start with the reserved tokens.
        counts: training count per token (missing tokens count 0).
        reserved: the reserved tokens at the head of `tokens`; ``("<pad>", "<unk>")``
            at least.

    Example:
        >>> ds = tf.data.Dataset.from_tensor_slices([["a", "b"], ["a", "c"]])
        >>> vocab = Vocabulary.build(ds, reserved=("<pad>", "<unk>", "<eos>"))
        >>> vocab.tokens
        ['<pad>', '<unk>', '<eos>', 'a', 'b', 'c']
        >>> vocab.ids(["a", "zzz"])
        [3, 1]
    """

    def __init__(self, tokens: Sequence[str], counts: dict[str, int] | None = None,
                 reserved: Sequence[str] = DEFAULT_RESERVED):
        tokens = list(tokens)
        reserved = tuple(reserved)
        if reserved[:2] != DEFAULT_RESERVED:
            raise ValueError(f"reserved must start with {DEFAULT_RESERVED}, received {reserved}")
        if tuple(tokens[: len(reserved)]) != reserved:
            raise ValueError(f"tokens must start with the reserved tokens {reserved}, "
                             f"received {tokens[: len(reserved)]}")
        if len(set(tokens)) != len(tokens):
            duplicate = next(t for t, n in collections.Counter(tokens).items() if n > 1)
            raise ValueError(f"duplicate token {duplicate!r} in vocabulary")
        self.tokens = tokens
        self.reserved = reserved
        self.counts = {token: int((counts or {}).get(token, 0)) for token in tokens}
        self._index = {token: i for i, token in enumerate(tokens)}

    # ------------------------------------------------------------------ building
    @classmethod
    def from_counts(cls, counts: dict[str, int], min_count: int = 1, max_size: int | None = None,
                    reserved: Sequence[str] = DEFAULT_RESERVED) -> "Vocabulary":
        """Keep tokens counted ≥ `min_count`, most frequent first, up to `max_size` ids.

        `max_size` counts the reserved tokens too (it is the embedding table's size).
        A reserved token met in the text (PTB's ``<unk>``) keeps its reserved id and
        its count.
        """
        reserved = tuple(reserved)
        if max_size is not None and max_size < len(reserved):
            raise ValueError(f"max_size must be ≥ {len(reserved)} (the reserved tokens), received {max_size}")
        ranked = sorted((t for t, n in counts.items() if n >= min_count and t not in reserved),
                        key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = ranked[: max_size - len(reserved)]
        return cls(list(reserved) + ranked, counts, reserved)

    @classmethod
    def build(cls, token_dataset: tf.data.Dataset, min_count: int = 1, max_size: int | None = None,
              reserved: Sequence[str] = DEFAULT_RESERVED) -> "Vocabulary":
        """Count tokens over a tf.data stream (the training split only) and rank them.

        Memory is bounded by the number of distinct tokens: each batch of ~64k tokens
        is reduced in-graph with `tf.unique_with_counts` and merged into a Counter.

        Args:
            token_dataset: elements are tokens as ``string[]``, ``string[n]`` (one
                sentence), ``string[B, T]`` or ragged ``string[B, None]``.
            min_count: drop tokens seen fewer times.
            max_size: the largest vocabulary size, reserved tokens included.
            reserved: reserved tokens, ``("<pad>", "<unk>")`` first.
        """
        counter: collections.Counter = collections.Counter()
        batches = _flat_token_batches(token_dataset).map(
            lambda t: tf.unique_with_counts(t)[::2], num_parallel_calls=tf.data.AUTOTUNE
        ).prefetch(tf.data.AUTOTUNE)
        for unique, count in batches.as_numpy_iterator():
            counter.update(dict(zip((u.decode("utf-8", "replace") for u in unique), count.tolist())))
        return cls.from_counts(counter, min_count, max_size, reserved)

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._index

    def __eq__(self, other) -> bool:
        return (isinstance(other, Vocabulary) and self.tokens == other.tokens
                and self.counts == other.counts and self.reserved == other.reserved)

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, reserved={self.reserved})"

    @property
    def pad_id(self) -> int:
        return PAD_ID

    @property
    def unk_id(self) -> int:
        return UNK_ID

    @property
    def bos_id(self) -> int | None:
        return self._index.get(BOS) if BOS in self.reserved else None

    @property
    def eos_id(self) -> int | None:
        return self._index.get(EOS) if EOS in self.reserved else None

    def id(self, token: str) -> int:
        """The token's id, `unk_id` when it is not in the vocabulary."""
        return self._index.get(token, UNK_ID)

    def ids(self, tokens: Iterable[str]) -> list[int]:
        return [self._index.get(t, UNK_ID) for t in tokens]

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> pathlib.Path:
        """Write ``token<TAB>count`` lines (id = line number - 1); returns the path.

        The first line is ``#reserved<TAB>`` followed by the reserved tokens, so that a
        load restores exactly the same object.
        """
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as out:
            out.write("#reserved\t" + "\t".join(_escape(t) for t in self.reserved) + "\n")
            for token in self.tokens:
                out.write(f"{_escape(token)}\t{self.counts[token]}\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, expected_size: int | None = None) -> "Vocabulary":
        """Read a file written by `save` (or plain ``token`` per line, pad/unk first).

        Args:
            path: the vocabulary file.
            expected_size: the size the model was built with (its embedding rows);
                a different size raises.

        Raises:
            DataError: missing/empty file, bad line, or size ≠ `expected_size`.
        """
        path = pathlib.Path(path)
        if not path.is_file():
            raise DataError(path, None, "no such vocabulary file")
        tokens, counts, reserved = [], {}, DEFAULT_RESERVED
        with open(path, encoding="utf-8", newline="\n") as stream:
            for number, line in enumerate(stream, start=1):
                line = line.rstrip("\n")
                if number == 1 and line.startswith("#reserved\t"):
                    reserved = tuple(_unescape(t) for t in line.split("\t")[1:])
                    continue
                token, _, count = line.partition("\t")
                token = _unescape(token)
                if count and not count.isdigit():
                    raise DataError(path, number, f"count must be a non-negative integer, found {count!r}")
                if token in counts:
                    raise DataError(path, number, f"duplicate token {token!r}")
                tokens.append(token)
                counts[token] = int(count or 0)
        if not tokens:
            raise DataError(path, None, "vocabulary file is empty")
        if tuple(tokens[: len(reserved)]) != tuple(reserved):
            raise DataError(path, 1, f"vocabulary must start with the reserved tokens {reserved}, "
                                     f"found {tokens[: len(reserved)]}")
        if expected_size is not None and len(tokens) != expected_size:
            raise DataError(path, None, f"vocabulary has {len(tokens)} tokens but the model "
                                        f"expects {expected_size}: wrong vocabulary file for this model")
        return cls(tokens, counts, reserved)

    # ------------------------------------------------------------------ in-graph lookup
    def lookup_layer(self) -> "TokenLookup":
        """A layer mapping strings (any shape, ragged too) to int64 ids; OOV → `unk_id`."""
        return TokenLookup(self.tokens, invert=False)

    def inverse_lookup_layer(self) -> "TokenLookup":
        """A layer mapping int64 ids back to token strings; unknown ids → ``<unk>``."""
        return TokenLookup(self.tokens, invert=True)


T = TypeVar("T")


def load_or_fit(path: str | os.PathLike | None, fit: Callable[[], T],
                load: Callable[[pathlib.Path], T] = Vocabulary.load,
                save: Callable[[T, pathlib.Path], object] = Vocabulary.save) -> T:
    """The vocabulary saved at `path` if that file exists, else `fit()`'s, saved there.

    This is how a run directory keeps its fitted preprocessing state: training fits
    and saves it, and evaluation, export and resumed runs load the same ids back.

    Args:
        path: the file; None = always `fit()` and save nothing.
        fit: builds the vocabulary (called only when `path` is not a file).
        load, save: read / write the state (`Vocabulary.load` / `Vocabulary.save`;
            other functions keep another kind of state, e.g. a tag list).

    Example:
        >>> vocab = load_or_fit(None, lambda: Vocabulary(["<pad>", "<unk>", "a"]))
        >>> vocab.tokens
        ['<pad>', '<unk>', 'a']
    """
    path = None if path is None else pathlib.Path(path)
    if path is not None and path.is_file():
        return load(path)
    value = fit()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save(value, path)
    return value


@keras.saving.register_keras_serializable(package="seqkeras")
class TokenLookup(keras.layers.Layer):
    """In-graph token ↔ id lookup with a `tf.lookup.StaticHashTable`.

    The table's keys and values are graph constants, so an exported SavedModel
    carries the vocabulary with it and needs no seqkeras code (nor a separate file)
    to run. Works on dense and ragged tensors of any shape.

    Args:
        tokens: the vocabulary, index = id.
        invert: False maps ``string → int64``; True maps ``int → string``.
    """

    def __init__(self, tokens: Sequence[str], invert: bool = False, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.tokens = list(tokens)
        self.invert = invert
        ids = tf.range(len(self.tokens), dtype=tf.int64)
        keys = tf.constant(self.tokens, dtype=tf.string)
        if invert:
            initializer = tf.lookup.KeyValueTensorInitializer(ids, keys)
            self.table = tf.lookup.StaticHashTable(initializer, default_value=self.tokens[UNK_ID])
        else:
            initializer = tf.lookup.KeyValueTensorInitializer(keys, ids)
            self.table = tf.lookup.StaticHashTable(initializer, default_value=UNK_ID)

    def call(self, inputs):
        if self.invert:
            cast = lambda t: tf.cast(t, tf.int64)
            if isinstance(inputs, tf.RaggedTensor):
                return tf.ragged.map_flat_values(lambda t: self.table.lookup(cast(t)), inputs)
            return self.table.lookup(cast(inputs))
        if isinstance(inputs, tf.RaggedTensor):
            return tf.ragged.map_flat_values(self.table.lookup, inputs)
        return self.table.lookup(inputs)

    def compute_output_spec(self, inputs):
        dtype = "string" if self.invert else "int64"
        return keras.KerasTensor(inputs.shape, dtype=dtype)

    def get_config(self):
        return {**super().get_config(), "tokens": self.tokens, "invert": self.invert}
