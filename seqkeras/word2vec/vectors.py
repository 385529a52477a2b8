"""Word vectors in the word2vec text and binary formats (readable by gensim).

Both formats start with a header line ``"<count> <dim>\\n"``; then, per word,

* text: ``word v1 v2 … vD\\n`` (decimal floats);
* binary: ``word `` then D little-endian float32 (4·D bytes), then ``\\n`` (as
  word2vec.c writes; the reader also accepts gensim's files without the newline).

Example:
    >>> save_word2vec_format("v.txt", ["a"], np.ones((1, 2)))        # doctest: +SKIP
    >>> load_word2vec_format("v.txt")                                   # doctest: +SKIP
    WordVectors(words=['a'], ...)
"""

from __future__ import annotations

import gzip
import os
import pathlib
from typing import Sequence

import numpy as np

from seqkeras.data import DataError
from seqkeras.word2vec.evaluation import WordVectors


def _open(path, mode):
    return gzip.open(path, mode) if os.fspath(path).endswith(".gz") else open(path, mode)


def save_word2vec_format(path: str | os.PathLike, words: Sequence[str], vectors: np.ndarray,
                         binary: bool = False) -> pathlib.Path:
    """Write `words` and their `vectors` [V, D] (``.gz`` compresses); atomic (temp + rename).

    Raises:
        ValueError: shape mismatch, or a word containing whitespace (the formats
            cannot represent it).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ValueError(f"vectors must be [len(words), D] = [{len(words)}, D], received {vectors.shape}")
    bad = next((w for w in words if not w or any(ch.isspace() for ch in w)), None)
    if bad is not None:
        raise ValueError(f"word {bad!r} is empty or contains whitespace: not representable in word2vec format")
    path = pathlib.Path(path)
    temporary = path.with_name(path.name + ".tmp")
    with _open(temporary, "wb") as out:
        out.write(f"{len(words)} {vectors.shape[1]}\n".encode())
        for word, vector in zip(words, vectors):
            if binary:
                out.write(word.encode("utf-8") + b" " + vector.astype("<f4").tobytes() + b"\n")
            else:
                out.write((word + " " + " ".join(repr(float(v)) for v in vector) + "\n").encode("utf-8"))
    os.replace(temporary, path)
    return path


def load_word2vec_format(path: str | os.PathLike, binary: bool | None = None, limit: int | None = None) -> WordVectors:
    """Read a word2vec text or binary file (`binary=None` guesses from the content).

    Raises:
        DataError: a missing file, a bad header, a short or malformed vector (naming
            the file and the word's line/entry number).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataError(path, None, "no such file")
    with _open(path, "rb") as handle:
        header = handle.readline().split()
        if len(header) != 2 or not all(h.isdigit() for h in header):
            raise DataError(path, 1, f"expected a header '<count> <dim>', found {b' '.join(header)[:60]!r}")
        count, dim = int(header[0]), int(header[1])
        if limit is not None:
            count = min(count, limit)
        body_start = handle.tell()
        if binary is None:
            binary = _looks_binary(handle.read(4096))
            handle.seek(body_start)
        words, vectors = [], np.empty((count, dim), dtype=np.float32)
        for i in range(count):
            if binary:
                word = bytearray()
                while True:
                    ch = handle.read(1)
                    if not ch:
                        raise DataError(path, i + 2, f"file ends after {i} of {count} vectors")
                    if ch == b" ":
                        break
                    if ch != b"\n":
                        word += ch
                raw = handle.read(4 * dim)
                if len(raw) != 4 * dim:
                    raise DataError(path, i + 2, f"vector {i + 1} ({bytes(word)[:40]!r}) is truncated")
                vectors[i] = np.frombuffer(raw, dtype="<f4")
                words.append(word.decode("utf-8", "replace"))
            else:
                line = handle.readline()
                if not line:
                    raise DataError(path, i + 2, f"file ends after {i} of {count} vectors")
                parts = line.decode("utf-8", "replace").rstrip().split(" ")
                if len(parts) != dim + 1:
                    raise DataError(path, i + 2, f"expected a word and {dim} numbers, found {len(parts)} fields")
                try:
                    vectors[i] = np.array(parts[1:], dtype=np.float32)
                except ValueError:
                    raise DataError(path, i + 2, f"non-numeric value in the vector of {parts[0]!r}") from None
                words.append(parts[0])
    return WordVectors(words, vectors)


def _looks_binary(sample: bytes) -> bool:
    """A text body decodes as UTF-8 and has only printable characters and newlines."""
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(sample) - 3:           # not just a character cut at the end
            return True
        text = sample[:error.start].decode("utf-8")
    return any((not ch.isprintable()) and ch not in "\n\r\t" for ch in text)


def embedding_matrix(tokens: Sequence[str], vectors: WordVectors | str | os.PathLike,
                     lowercase: bool = False, seed: int = 0, scale: float | None = None
                     ) -> tuple[np.ndarray, int]:
    """An embedding table for another application's vocabulary from trained vectors.

    Row i is the vector of ``tokens[i]`` (looked up lower-cased when `lowercase`);
    tokens without a vector get U(−s, s) with ``s`` = `scale` (default: the trained
    vectors' standard deviation), and row 0 (padding) is zero. Use it as
    ``keras.layers.Embedding(V, D, embeddings_initializer=keras.initializers.Constant(m))``
    or ``layer.embeddings.assign(m)``.

    Args:
        tokens: the other application's vocabulary (``Vocabulary.tokens``).
        vectors: `WordVectors` or a word2vec text/binary file.

    Returns:
        (matrix float32[len(tokens), D], number of tokens found).
    """
    if not isinstance(vectors, WordVectors):
        vectors = load_word2vec_format(vectors)
    rng = np.random.default_rng(seed)
    s = float(np.std(vectors.vectors)) if scale is None else scale
    matrix = rng.uniform(-s, s, (len(tokens), vectors.vectors.shape[1])).astype(np.float32)
    found = 0
    for i, token in enumerate(tokens):
        key = token.lower() if lowercase else token
        if key in vectors:
            matrix[i] = vectors[key]
            found += 1
    matrix[0] = 0.0
    return matrix, found
