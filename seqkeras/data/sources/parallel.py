"""Parallel text source: line-aligned source/target files as string pairs."""

from __future__ import annotations

import tensorflow as tf

from seqkeras.data.errors import DataError
from seqkeras.data.sources.common import Paths, checked_files, line_dataset


def parallel_lines(source_paths: Paths, target_paths: Paths,
                   encoding_errors: str = "replace") -> tf.data.Dataset:
    """Line-aligned source/target files (e.g. Multi30k) as ``(source, target)`` strings.

    Raises:
        DataError: a file is missing/empty, or the two sides have different numbers
            of lines (naming the shorter file and the first line it lacks).
    """
    sources, source_invalid, source_counts = checked_files(source_paths, encoding_errors)
    targets, target_invalid, target_counts = checked_files(target_paths, encoding_errors)
    pairs = (list(zip(sources, source_counts, targets, target_counts))
             if len(sources) == len(targets) else
             [(sources[-1], sum(source_counts), targets[-1], sum(target_counts))])
    for source, n_source, target, n_target in pairs:
        if n_source != n_target:
            shorter = source if n_source < n_target else target
            raise DataError(shorter, min(n_source, n_target) + 1,
                            f"parallel files differ in length: {source} has {n_source} lines, "
                            f"{target} has {n_target}")
    return tf.data.Dataset.zip((line_dataset(sources, source_invalid),
                                line_dataset(targets, target_invalid)))
