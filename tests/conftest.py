"""Shared pytest fixtures.

`shared_data` points at the real corpora (`../shared/data` beside the checkout, or
`$SEQKERAS_SHARED_DATA`); tests that use it skip when it is absent, as on a user's
fresh machine. The core suite needs no outside data.
"""

import os
import pathlib

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def _shared_data_dir():
    configured = os.environ.get("SEQKERAS_SHARED_DATA")
    if configured:
        return pathlib.Path(configured)
    return REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """Path to `shared/data`; skips the test when the corpora are not on this machine."""
    path = _shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real corpora not found at {path}")
    return path
