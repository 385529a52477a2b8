"""Inspect an exported SavedModel the way TF Serving users do: `saved_model_cli`."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys


def _cli_command() -> list[str]:
    beside_python = pathlib.Path(sys.executable).parent / "saved_model_cli"
    if beside_python.is_file():
        return [str(beside_python)]
    found = shutil.which("saved_model_cli")
    if found:
        return [found]
    return [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]


def saved_model_cli_show(saved_model_dir: str | os.PathLike, timeout: float = 300) -> str:
    """Run ``saved_model_cli show --all --dir <saved_model_dir>`` and return its stdout.

    Raises:
        FileNotFoundError: the directory holds no ``saved_model.pb``.
        RuntimeError: the CLI failed (its stderr is in the message).
    """
    saved_model_dir = pathlib.Path(saved_model_dir)
    if not (saved_model_dir / "saved_model.pb").is_file():
        raise FileNotFoundError(f"no saved_model.pb in {saved_model_dir}")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        _cli_command() + ["show", "--all", "--dir", str(saved_model_dir)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )
    if result.returncode != 0:
        raise RuntimeError(f"saved_model_cli show failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result.stdout
