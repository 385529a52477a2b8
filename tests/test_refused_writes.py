"""Writes the file system refuses (a full disk, a file size limit, a path through a
regular file): `seqkeras train` and `export` end with one line naming the file and the
reason, keep nothing half-written, and succeed when run again once the cause is gone.

A full disk is injected for real without root: the child process gets a file size limit
(RLIMIT_FSIZE) with SIGXFSZ ignored, so the kernel fails its large writes with EFBIG, the
same path through every writer (h5py, TensorFlow's file system, Python) as ENOSPC.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

import contract_fixtures

NAME = "contract_classification"


def _run(command, file_size_limit=None):
    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    return subprocess.run([sys.executable, "-m", "seqkeras.cli", *command], capture_output=True, text=True,
                          timeout=600, preexec_fn=limit_file_size if file_size_limit else None,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


def _one_line_error(done, *fragments):
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith("error: ") and all(f in lines[0] for f in fragments), lines[0]


def _pipeline(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    text = contract_fixtures.classification(data)
    spec = tmp_path / "spec.toml"
    spec.write_text(text[:text.index("[tuning]")].replace("epochs = 1", "epochs = 3"), encoding="utf-8")
    return [str(spec), "--data-dir", str(data), "--work-dir", str(tmp_path / "runs")]


def test_training_out_of_space_stops_clearly_and_resumes_once_there_is_room(tmp_path):
    pipeline = _pipeline(tmp_path)
    # 4 KiB: the history and the backup's state fit, the weights files do not.
    refused = _run(["train", *pipeline], file_size_limit=4096)
    _one_line_error(refused, "File too large", "--work-dir")
    run = tmp_path / "runs" / NAME
    assert not list(run.rglob(".tmp-*")) and not list(run.rglob("*.weights.h5"))
    done = _run(["train", *pipeline])
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [f"epoch_00{i}.weights.h5" for i in (1, 2, 3)]


def test_export_out_of_space_leaves_no_version_and_a_later_export_is_complete(tmp_path):
    pipeline = _pipeline(tmp_path)
    assert _run(["train", *pipeline]).returncode == 0
    output = tmp_path / "saved_models"
    refused = _run(["export", *pipeline, "--output", str(output)], file_size_limit=64 * 1024)
    _one_line_error(refused, "File too large", "--output")
    assert list((output / NAME).iterdir()) == []          # no version, no temporary directory
    done = _run(["export", *pipeline, "--output", str(output)])
    assert done.returncode == 0, done.stderr[-3000:]
    version = output / NAME / "1"
    assert (version / "saved_model.pb").is_file() and (version / "variables" / "variables.index").is_file()


def test_an_output_path_through_a_regular_file_is_one_line(tmp_path):
    pipeline = _pipeline(tmp_path)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    _one_line_error(_run(["train", *pipeline[:-1], str(blocker / "runs")]), str(blocker), "Not a directory")
