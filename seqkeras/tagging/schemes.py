"""Tagging schemes for chunks (entities): IOB1, IOB2, BIOES — pure functions.

A chunk of type X covering tokens i..j is written, per scheme:

* IOB1 (CoNLL-2003's files): ``I-X`` inside; ``B-X`` only on the first token of a
  chunk that directly follows another chunk of the same type.
* IOB2: ``B-X`` on the first token of every chunk, ``I-X`` on the rest.
* BIOES (IOBES): ``S-X`` for a one-token chunk; else ``B-X``, ``I-X``…, ``E-X``.

Conversions read chunks the way ``conlleval`` does (an ``I-X`` that does not
continue a chunk of type X starts one), so they are total: any tag sequence, even
an ill-formed prediction, converts, and IOB1 → IOB2 → BIOES → IOB2 round-trips
chunks exactly. Tags without a ``-`` (``O``, or POS tags) are left as they are.

`convert` works on Python lists (metrics, tests); `convert_tensor` is the same
conversion in TensorFlow ops on one sentence's ``string[n]`` tags, for tf.data.

Example:
    >>> iob1_to_iob2(["I-PER", "I-PER", "B-PER", "O", "I-LOC"])
    ['B-PER', 'I-PER', 'B-PER', 'O', 'B-LOC']
    >>> iob2_to_bioes(["B-PER", "I-PER", "B-PER", "O", "B-LOC"])
    ['B-PER', 'E-PER', 'S-PER', 'O', 'S-LOC']
"""

from __future__ import annotations

from typing import Sequence

SCHEMES = ("iob1", "iob2", "bioes")
OUTSIDE = "O"


def split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` → ``("B", "PER")``; ``"O"`` (or any tag without a prefix) → ``(tag, "")``."""
    prefix, sep, kind = tag.partition("-")
    if not sep or prefix not in ("B", "I", "E", "S"):
        return tag, ""
    return prefix, kind


def chunk_starts(tags: Sequence[str]) -> list[bool]:
    """Per token: does a chunk start here? (conlleval's rule over B/I/E/S prefixes)."""
    starts, previous = [], (OUTSIDE, "")
    for tag in tags:
        prefix, kind = split_tag(tag)
        prev_prefix, prev_kind = previous
        if not kind:
            start = False
        elif prefix in ("B", "S"):
            start = True
        else:  # I or E: continues only a chunk of the same type that is still open
            start = prev_kind != kind or prev_prefix in ("E", "S") or not prev_kind
        starts.append(start)
        previous = (prefix, kind)
    return starts


def chunk_ends(tags: Sequence[str]) -> list[bool]:
    """Per token: does a chunk end here (the next token does not continue it)?"""
    starts = chunk_starts(tags)
    ends = []
    for i, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        if not kind:
            ends.append(False)
            continue
        if prefix in ("E", "S") or i + 1 == len(tags):
            ends.append(True)
            continue
        next_prefix, next_kind = split_tag(tags[i + 1])
        ends.append(starts[i + 1] or next_kind != kind)
    return ends


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """IOB1 (or any B/I/E/S sequence) → IOB2: every chunk starts with ``B-``."""
    return [(("B-" if start else "I-") + split_tag(tag)[1]) if split_tag(tag)[1] else tag
            for tag, start in zip(tags, chunk_starts(tags))]


def iob2_to_bioes(tags: Sequence[str]) -> list[str]:
    """IOB2 (or IOB1, or ill-formed) → BIOES."""
    out = []
    for tag, start, end in zip(tags, chunk_starts(tags), chunk_ends(tags)):
        kind = split_tag(tag)[1]
        if not kind:
            out.append(tag)
        elif start and end:
            out.append("S-" + kind)
        elif start:
            out.append("B-" + kind)
        elif end:
            out.append("E-" + kind)
        else:
            out.append("I-" + kind)
    return out


def bioes_to_iob2(tags: Sequence[str]) -> list[str]:
    """BIOES → IOB2 (an ill-formed sequence is read as conlleval reads it)."""
    return iob1_to_iob2(tags)


def iob2_to_iob1(tags: Sequence[str]) -> list[str]:
    """IOB2 → IOB1: ``B-X`` only where a chunk directly follows one of the same type."""
    out, starts = [], chunk_starts(tags)
    for i, (tag, start) in enumerate(zip(tags, starts)):
        kind = split_tag(tag)[1]
        if not kind:
            out.append(tag)
            continue
        follows_same = i > 0 and split_tag(tags[i - 1])[1] == kind
        out.append("B-" + kind if start and follows_same else "I-" + kind)
    return out


def convert(tags: Sequence[str], source: str, target: str) -> list[str]:
    """Convert one sentence's tags between ``"iob1"``, ``"iob2"`` and ``"bioes"``.

    ``source == target`` returns a copy; ``"none"`` on either side means plain
    labels (POS) and must be on both.
    """
    for name, value in (("source", source), ("target", target)):
        if value not in SCHEMES + ("none",):
            raise ValueError(f"Argument `{name}` must be one of {list(SCHEMES) + ['none']}, received {value!r}")
    if source == target:
        return list(tags)
    if "none" in (source, target):
        raise ValueError(f"cannot convert tags from {source!r} to {target!r}")
    if target == "iob1":
        return iob2_to_iob1(tags)
    iob2 = iob1_to_iob2(tags)  # any of the three reads correctly as conlleval chunks
    return iob2 if target == "iob2" else iob2_to_bioes(iob2)


def convert_tensor(tags, source: str, target: str):
    """`convert` in TensorFlow ops: one sentence's tags ``string[n]`` → ``string[n]``.

    Vectorized over the sentence (previous / next token by shifting), so it runs in
    a `tf.data` map; the result equals `convert` on every sequence, ill-formed ones
    included.
    """
    import tensorflow as tf

    convert([], source, target)  # validates the scheme names
    tags = tf.convert_to_tensor(tags, tf.string)
    if source == target:
        return tags
    parts = tf.strings.split(tags, "-", maxsplit=1).to_tensor("", shape=[None, 2])
    is_chunk = tf.logical_and(tf.reduce_any(tf.equal(parts[:, :1], ["B", "I", "E", "S"]), axis=1),
                              tf.not_equal(parts[:, 1], ""))
    prefix = tf.where(is_chunk, parts[:, 0], tags)   # split_tag: (tag, "") without a chunk
    kind = tf.where(is_chunk, parts[:, 1], "")
    previous = lambda x, pad: tf.concat([[pad], x[:-1]], 0)  # noqa: E731
    following = lambda x, pad: tf.concat([x[1:], [pad]], 0)  # noqa: E731
    previous_kind, previous_prefix = previous(kind, ""), previous(prefix, "O")
    # A chunk token starts a chunk unless it is I/E continuing an open chunk of its type
    # (kind is never "" here, so a previous non-chunk token also differs in kind).
    starts = is_chunk & (tf.equal(prefix, "B") | tf.equal(prefix, "S") | tf.not_equal(previous_kind, kind)
                         | tf.equal(previous_prefix, "E") | tf.equal(previous_prefix, "S"))
    begin = starts & tf.equal(previous_kind, kind) if target == "iob1" else starts
    inside = tf.where(begin, "B-", "I-")
    if target == "bioes":  # ends read on the IOB2 sequence, as `iob2_to_bioes` does
        ends = is_chunk & (following(starts, True) | tf.not_equal(following(kind, ""), kind))
        inside = tf.where(starts & ends, "S-", tf.where(starts, "B-", tf.where(ends, "E-", "I-")))
    return tf.where(is_chunk, inside + kind, tags)


def chunks(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The chunks ``(type, first, last)`` (inclusive) as conlleval reads them."""
    out, open_chunk = [], None
    for i, (tag, start, end) in enumerate(zip(tags, chunk_starts(tags), chunk_ends(tags))):
        kind = split_tag(tag)[1]
        if not kind:
            continue
        if start or open_chunk is None:
            open_chunk = (kind, i)
        if end:
            out.append((open_chunk[0], open_chunk[1], i))
            open_chunk = None
    return out
