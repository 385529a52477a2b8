"""Starter specs for ``seqkeras init``: an application's spec class rendered as
commented TOML, its defaults filled in and the user's data files set.

The comments are the ones written beside each field in the spec dataclasses (and the
first docstring line of each section), so the starter spec documents every key with
the same words as the code, and stays in step with it.

Example:
    >>> text = starter_toml(registry.get("classification"), ["reviews.csv"])  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import re

from seqkeras.pipeline.spec import PipelineSpec, with_overrides

_FIELD_LINE = re.compile(r"^\s+(\w+)\s*:[^=#]*=?[^#]*?(#\s?(.*))?$")
_COMMENT_LINE = re.compile(r"^\s+#\s?(.*)$")


def starter_toml(application, data_files: list[str], name: str = "") -> str:
    """The commented TOML starter spec of `application` for `data_files`.

    Args:
        application: a registered `Application`.
        data_files: the user's data files (paths as the spec should hold them).
        name: the pipeline name (default: the application's name).
    """
    spec = application.spec_class()
    spec.name = name or f"my_{application.name}"
    spec = with_overrides(spec, application.starter(list(data_files)))
    lines = [f"# Starter spec for the {application.name!r} application, written by `seqkeras init`.",
             "# Every key below is at its default unless `seqkeras init` set it from your data;",
             "# delete what you do not change. Run it with:",
             f"#     seqkeras run {spec.name}.toml --data-dir DIR",
             "",
             f"application = {_value(spec.application)}",
             f"name = {_value(spec.name)}",
             f"description = {_value(spec.description)}"]
    lines += _section(spec, spec, "")
    return "\n".join(lines).rstrip() + "\n"


def _section(spec: PipelineSpec, owner, prefix: str) -> list[str]:
    """``[table]`` blocks for every dataclass field of `owner` (recursively)."""
    lines = []
    comments = _field_comments(type(owner))
    scalars, tables = [], []
    for field in dataclasses.fields(owner):
        if field.metadata.get("internal") or (not prefix and field.name in ("application", "name", "description")):
            continue
        dotted = f"{prefix}{field.name}"
        if dotted in spec.unsupported_keys:
            continue
        value = getattr(owner, field.name)
        if dataclasses.is_dataclass(value):
            tables.append((dotted, value))
        elif isinstance(value, dict) and dotted == "tuning.space":
            tables.append((dotted, value))
        else:
            scalars.append((field.name, value, comments.get(field.name, "")))
    if not prefix:
        # The user's own sections first: what the data is and which model reads it.
        tables.sort(key=lambda table: ("data", "model").index(table[0]) if table[0] in ("data", "model") else 2)
    for key, value, comment in scalars:
        line = f"{key} = {_value(value)}"
        lines.append(f"{line:<40} # {comment}" if comment else line)
    for dotted, value in tables:
        lines += ["", f"[{dotted}]"]
        if isinstance(value, dict):
            lines += [f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()]
            continue
        doc = (inspect.getdoc(type(value)) or "").splitlines()
        if doc and doc[0] and not doc[0].startswith(type(value).__name__ + "("):
            lines.insert(len(lines) - 1, f"# {doc[0]}")
        lines += _section(spec, value, f"{dotted}.")
    return lines


@functools.lru_cache(maxsize=None)
def _field_comments(cls) -> dict[str, str]:
    """``{field: trailing comment}`` read from the source of `cls` and its bases."""
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = inspect.getsource(klass).splitlines()
        except (OSError, TypeError):
            continue
        current = None
        for line in source[1:]:
            field = _FIELD_LINE.match(line)
            if field and not line.strip().startswith(("#", "def ", "@", '"')):
                current = field.group(1)
                if field.group(3):
                    comments[current] = field.group(3).strip()
                continue
            more = _COMMENT_LINE.match(line)
            if more and current in comments:
                comments[current] += " " + more.group(1).strip()
            else:
                current = None
    return comments


def _value(value) -> str:
    """A Python value as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")

