"""Atomic, versioned SavedModel export: ``<base_dir>/<model_name>/<integer version>/``.

TensorFlow Serving watches ``<base_dir>/<model_name>/`` and loads integer-named
directories. A version must therefore appear complete or not at all:

1. the SavedModel (and its ``assets.extra`` warmup file) is written into a hidden
   temporary sibling ``.tmp-<version>-<random>`` (not an integer: Serving ignores it);
2. only when writing succeeded is it renamed to ``<version>`` (`os.rename` is atomic
   on one filesystem; it refuses to replace a non-empty directory);
3. on any exception the temporary directory is deleted and the exception re-raised.

A process killed between 1 and 2 leaves only a hidden ``.tmp-*`` directory, never a
partial version; `clean_stale_temporaries` removes those.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import uuid
from typing import Callable, Iterable

import tensorflow as tf

from seqkeras.serving import warmup as warmup_lib

TEMP_PREFIX = ".tmp-"
_AUTO_RETRIES = 8


def list_versions(model_dir: str | os.PathLike) -> list[int]:
    """Integer version directories under ``model_dir`` (sorted); [] when it is missing."""
    model_dir = pathlib.Path(model_dir)
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def next_version(model_dir: str | os.PathLike) -> int:
    """The "auto" policy: highest existing version + 1 (1 for a new model)."""
    versions = list_versions(model_dir)
    return versions[-1] + 1 if versions else 1


def clean_stale_temporaries(model_dir: str | os.PathLike) -> list[pathlib.Path]:
    """Delete ``.tmp-*`` directories left by killed exports; returns what was removed.

    Only call this when no export into ``model_dir`` is running.
    """
    model_dir = pathlib.Path(model_dir)
    removed = []
    if model_dir.is_dir():
        for path in model_dir.iterdir():
            if path.name.startswith(TEMP_PREFIX) and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def _check_version(version):
    if version == "auto":
        return
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(
            "Received an invalid value for argument `version`, expected 'auto' or a "
            f"non-negative integer, received version={version!r}"
        )


def _check_model_name(model_name):
    if not isinstance(model_name, str) or not model_name or model_name in (".", "..") \
            or "/" in model_name or os.sep in model_name:
        raise ValueError(
            "Received an invalid value for argument `model_name`, expected a non-empty "
            f"directory name without path separators, received model_name={model_name!r}"
        )


def write_versioned(
    build,
    base_dir: str | os.PathLike,
    model_name: str,
    version: int | str = "auto",
    signatures=None,
    warmup_requests: Iterable | None = None,
    options: tf.saved_model.SaveOptions | None = None,
    validate: Callable[[str], None] | None = None,
) -> pathlib.Path:
    """Write a SavedModel as version ``<base_dir>/<model_name>/<version>/``, atomically.

    Args:
        build: a `tf.Module` (saved with `tf.saved_model.save`) or a callable
            ``build(directory: str)`` that writes a SavedModel into ``directory``
            (e.g. ``lambda d: model.export(d)``).
        base_dir: the export root (``saved_models``).
        model_name: the served model's name; one directory level.
        version: ``"auto"`` (highest existing + 1) or an int; an existing int
            version raises `FileExistsError` (versions are immutable).
        signatures: passed to `tf.saved_model.save` when `build` is a module.
        warmup_requests: `seqkeras.serving.WarmupRequest`s (or ``(signature_name,
            inputs)`` pairs) written to ``assets.extra/tf_serving_warmup_requests``
            with ``model_spec.name = model_name``.
        options: `tf.saved_model.SaveOptions` when `build` is a module.
        validate: optional ``validate(temporary_directory)`` run before the rename
            (e.g. load it and run the warmup requests); raising aborts the export.

    Returns:
        The final version directory (`pathlib.Path`).

    Example:
        >>> path = write_versioned(module, "saved_models", "ptb_lm", signatures=sigs)
        >>> path.name
        '1'
    """
    _check_version(version)
    _check_model_name(model_name)
    model_dir = pathlib.Path(base_dir) / model_name
    model_dir.mkdir(parents=True, exist_ok=True)
    target = next_version(model_dir) if version == "auto" else version
    if version != "auto" and (model_dir / str(target)).exists():
        raise FileExistsError(f"version {target} of {model_name!r} already exists at "
                              f"{model_dir / str(target)}; versions are immutable")

    temporary = model_dir / f"{TEMP_PREFIX}{target}-{uuid.uuid4().hex[:12]}"
    try:
        if isinstance(build, tf.Module):
            tf.saved_model.save(build, str(temporary), signatures=signatures, options=options)
        elif callable(build):
            build(str(temporary))
        else:
            raise TypeError(f"Argument `build` must be a tf.Module or a callable(directory), "
                            f"received build={build!r}")
        if not (temporary / "saved_model.pb").is_file():
            raise RuntimeError(f"no saved_model.pb was written into {temporary}")
        if warmup_requests is not None:
            warmup_lib.write_warmup_requests(temporary, model_name, warmup_requests)
        if validate is not None:
            validate(str(temporary))
        for attempt in range(_AUTO_RETRIES if version == "auto" else 1):
            final = model_dir / str(target)
            try:
                if final.exists():
                    raise FileExistsError(final)
                os.rename(temporary, final)
                return final
            except OSError:
                # Another writer took this version number between our check and the
                # rename ("auto" only): take the next free one.
                if version != "auto" or attempt == _AUTO_RETRIES - 1:
                    raise
                target = max(target, next_version(model_dir) - 1) + 1
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    raise AssertionError("unreachable")
