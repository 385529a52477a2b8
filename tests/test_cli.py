"""The command line: starts without TensorFlow, quiet by default, `seqkeras init`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from seqkeras import cli
from seqkeras.pipeline import load_spec

NO_TENSORFLOW = """
import sys
from seqkeras import cli
for argv in (["--help"], ["run", "--help"], ["predict", "--help"], ["study", "gradients", "--help"],
             ["init", "--help"], ["run"]):
    try:
        cli.main(argv)
    except SystemExit:
        pass
heavy = sorted(m for m in ("tensorflow", "keras", "keras_tuner", "numpy", "matplotlib") if m in sys.modules)
print("HEAVY", heavy)
"""


def test_help_and_argument_errors_do_not_import_tensorflow():
    done = subprocess.run([sys.executable, "-c", NO_TENSORFLOW], capture_output=True, text=True, timeout=120)
    assert "HEAVY []" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]


def test_argument_error_names_the_problem(capsys):
    with pytest.raises(SystemExit) as error:
        cli.main(["run"])
    assert error.value.code == 2
    assert "pipeline" in capsys.readouterr().err


def test_every_command_has_a_module_with_configure_and_main():
    import importlib

    for name, (module, _) in cli.COMMANDS.items():
        loaded = importlib.import_module(module)
        assert callable(loaded.configure) and callable(loaded.main), name


def test_init_writes_a_commented_spec_that_loads(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("hello world\n" * 20)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["init", "language_model", "--data", str(corpus), "--name", "mine"]) == 0
    text = (tmp_path / "mine.toml").read_text()
    assert text.startswith("# Starter spec") and "[training]" in text and "# " in text.split("[model]")[1]
    spec = load_spec(tmp_path / "mine.toml")
    assert spec.name == "mine" and spec.data.train == str(corpus)
    with pytest.raises(SystemExit, match="exists"):
        cli.main(["init", "language_model", "--data", str(corpus), "--name", "mine"])


def test_init_rejects_an_unknown_application_and_a_missing_file(tmp_path):
    with pytest.raises(SystemExit, match="unknown application"):
        cli.main(["init", "nope", "--data", str(tmp_path)])
    with pytest.raises(SystemExit, match="no such data file"):
        cli.main(["init", "classification", "--data", str(tmp_path / "missing.csv")])


QUIET_RUN = """
import sys
from seqkeras import cli
sys.argv[0] = "seqkeras"
sys.exit(cli.main())
"""


def test_a_command_prints_no_tensorflow_start_up_logs(tmp_path):
    from seqkeras.quiet import NATIVE_LOG

    assert NATIVE_LOG.match(b"I0000 00:00:1796636244.027756   29606 cudart_stub.cc:31] Could not find cuda")
    assert NATIVE_LOG.match(b"WARNING: All log messages before absl::InitializeLog() is called are written")
    assert not NATIVE_LOG.match(b"error: no SavedModel at x")
    inputs = tmp_path / "in.txt"
    inputs.write_text("hello\n")
    command = [sys.executable, "-c", QUIET_RUN, "predict", str(tmp_path / "missing"), str(inputs)]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 1 and "error: no SavedModel" in done.stderr
    assert "I0000" not in done.stderr and "absl::InitializeLog" not in done.stderr, done.stderr
    verbose = subprocess.run(command[:3] + ["--verbose"] + command[3:], capture_output=True, text=True,
                             timeout=120, env=env)
    assert verbose.returncode == 1 and "error: no SavedModel" in verbose.stderr


def test_a_missing_corpus_is_one_line_that_says_how_to_point_at_the_data(tmp_path):
    pipeline = os.path.join(os.path.dirname(__file__), "..", "pipelines", "sst2_sentiment.toml")
    command = [sys.executable, "-c", QUIET_RUN, "train", pipeline, "--data-dir", str(tmp_path),
               "--work-dir", str(tmp_path / "runs")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: {tmp_path}/sst2/") and "no such file" in lines[0]
    assert "--data-dir DIR or SEQKERAS_DATA=DIR" in lines[0] and "--verbose" in lines[0]
    verbose = subprocess.run(command[:3] + ["--verbose"] + command[3:], capture_output=True, text=True, timeout=120)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr and "MissingDataError" in verbose.stderr
