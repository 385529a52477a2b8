"""TensorFlow Datasets source: a TFDS split shaped like the file sources."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from seqkeras.data.errors import DataError
from seqkeras.data.sources.common import PathLike


def tfds_source(name: str, split: str = "train", keys: Sequence[str] | None = None,
                data_dir: PathLike | None = None, download: bool = False,
                shuffle_files: bool = False) -> tf.data.Dataset:
    """A TensorFlow Datasets split, with elements shaped like the file sources.

    Args:
        name: a TFDS name, with config if any (``"imdb_reviews"``, ``"glue/sst2"``);
            a leading ``"tfds:"`` is accepted.
        split: a TFDS split expression (``"train"``, ``"train[:90%]"``).
        keys: feature names to return as a tuple, e.g. ``("sentence", "label")``
            gives ``(text, label)`` pairs like `labelled_text`. None returns the
            supervised ``(input, target)`` pair when the dataset defines one, else
            the feature dict.
        data_dir: TFDS data directory (default: TFDS's own).
        download: allow downloading (off by default: offline machines).

    Raises:
        DataError: unknown dataset name, unknown feature key, or data not prepared.
    """
    import tensorflow_datasets as tfds  # heavy import, only for tfds: specs

    name = name.removeprefix("tfds:")
    spec = f"tfds:{name}"
    try:
        builder_names = tfds.list_builders(with_community_datasets=False)
    except TypeError:  # older TFDS
        builder_names = tfds.list_builders()
    if name.split("/")[0].split(":")[0] not in builder_names:
        raise DataError(spec, None, "unknown TensorFlow Datasets name; see tfds.list_builders()")
    try:
        dataset, info = tfds.load(name, split=split, data_dir=None if data_dir is None else str(data_dir),
                                  download=download, with_info=True, shuffle_files=shuffle_files,
                                  as_supervised=keys is None)
    except (tfds.core.registered.DatasetNotFoundError, AssertionError, FileNotFoundError,
            ValueError) as error:
        raise DataError(spec, None, f"cannot load split {split!r}: {error}") from None
    if keys is None:
        return dataset
    missing = [k for k in keys if k not in dataset.element_spec]
    if missing:
        raise DataError(spec, None, f"unknown feature(s) {missing}; features are {sorted(dataset.element_spec)}")
    return dataset.map(lambda features: tuple(features[k] for k in keys),
                       num_parallel_calls=tf.data.AUTOTUNE)
