"""What the benchmark scripts share: thread limits, package versions, markdown tables.

The scripts run as ``python bench/<name>.py``, so this module imports as ``harness``.
"""

from __future__ import annotations

import contextlib
import importlib.metadata


class OverBudget(Exception):
    """A peer's fit ran past its time budget (the benches report it and go on)."""


def limit_threads(threads: int):
    """TensorFlow, torch and the BLAS libraries on `threads` threads (call before
    TensorFlow's first op); returns the threadpoolctl limit to hold for the run."""
    import tensorflow as tf
    from threadpoolctl import threadpool_limits

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    with contextlib.suppress(ImportError):      # no torch: the torch peers are skipped
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(threads)
    return threadpool_limits(threads)


def versions(packages) -> dict[str, str]:
    """``{package: installed version}`` of those of `packages` that are installed."""
    found = {}
    for name in ("seqkeras", "tensorflow", "keras", "numpy", *packages):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


def markdown_table(header: list[str], rows: list[list]) -> str:
    """A GitHub-markdown table of `rows` (cells already formatted)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
