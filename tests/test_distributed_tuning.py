"""Distributed keras-tuner searches on localhost: a chief and worker processes, a worker
killed mid-trial, the chief killed and restarted, and the flags of a multi-host run."""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import time

import pytest

import contract_fixtures
from seqkeras import cli
from seqkeras.pipeline.distributed import LocalSearch, oracle_environment, parse_chief


def _spec(tmp_path, trials: int, steps: int):
    data = tmp_path / "data"
    data.mkdir()
    spec = tmp_path / "lm.toml"
    spec.write_text(contract_fixtures.language_model(data), encoding="utf-8")
    return ["tune", str(spec), "--data-dir", str(data), "--work-dir", str(tmp_path / "runs"),
            "--max-trials", str(trials), "--set", f"tuning.steps_per_epoch={steps}"]


def _trials(tmp_path) -> dict[str, str]:
    """trial id → status, from the tuner directory (the space has 2 points: 2 trials)."""
    found = {}
    for path in (tmp_path / "runs" / "contract_language_model" / "tuner" / "search").glob("trial_*/trial.json"):
        trial = json.loads(path.read_text())
        found[trial["trial_id"]] = trial["status"]
    return found


class Lines(io.StringIO):
    """The launcher's display, watched by the test."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def write(self, text):
        with self.lock:
            return super().write(text)

    def wait_for(self, predicate, timeout=240):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                text = self.getvalue()
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"timed out; output so far:\n{self.getvalue()[-4000:]}")


def _run_in_thread(search):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("code", search.run()), daemon=True)
    thread.start()
    return thread, result


def test_two_workers_run_the_search_and_the_chief_writes_the_summary(tmp_path):
    argv = _spec(tmp_path, trials=2, steps=4)
    display = Lines()
    assert LocalSearch(argv[1:], workers=2, output=display).run() == 0
    text = display.getvalue()
    assert "[chief]" in text and "[tuner0]" in text and "[tuner1]" in text
    assert sorted(_trials(tmp_path).values()) == ["COMPLETED"] * 2
    run = tmp_path / "runs" / "contract_language_model"
    assert (run / "tuning_summary.md").is_file() and (run / "tuning_trials.png").is_file()
    assert set(json.loads((run / "best_hyperparameters.json").read_text())) == {"model.cell"}


def test_a_worker_killed_mid_trial_is_restarted_and_no_trial_is_lost(tmp_path):
    argv = _spec(tmp_path, trials=2, steps=300)
    display = Lines()
    search = LocalSearch(argv[1:], workers=2, output=display)
    thread, result = _run_in_thread(search)
    display.wait_for(lambda text: any(line.startswith("[tuner0]") and "/300" in line for line in text.splitlines()))
    os.kill(search.processes["tuner0"].pid, signal.SIGKILL)
    thread.join(600)
    assert result.get("code") == 0, display.getvalue()[-4000:]
    assert search.restarts == {"tuner0": 1}
    assert "tuner0 exited with code -9: restarting it under the same ID" in display.getvalue()
    assert sorted(_trials(tmp_path).values()) == ["COMPLETED"] * 2


def test_a_dead_chief_stops_the_search_with_an_error_and_keeps_completed_trials(tmp_path):
    argv = _spec(tmp_path, trials=2, steps=200)
    display = Lines()
    search = LocalSearch(argv[1:], workers=1, output=display)
    thread, result = _run_in_thread(search)
    display.wait_for(lambda text: list(_trials(tmp_path).values()).count("COMPLETED") >= 1, timeout=300)
    os.kill(search.processes["chief"].pid, signal.SIGKILL)
    thread.join(120)
    assert result.get("code") == 1 and "the chief exited with code -9: stopping the workers" in display.getvalue()
    assert all(process.poll() is not None for process in search.processes.values())
    assert "COMPLETED" in _trials(tmp_path).values()


def test_multi_host_flags_set_keras_tuner_variables():
    assert oracle_environment("10.0.0.5:8000", "tuner3") == {
        "KERASTUNER_TUNER_ID": "tuner3", "KERASTUNER_ORACLE_IP": "10.0.0.5", "KERASTUNER_ORACLE_PORT": "8000"}
    assert parse_chief("[::1]:9000") == ("[::1]", 9000)
    for bad in ("nohost", "host:", "host:99999", ":80"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_chief(bad)
    with pytest.raises(ValueError, match="treats any ID containing 'chief'"):
        oracle_environment("h:1", "subchief")


@pytest.mark.parametrize("argv, message", [
    (["--workers", "2", "--chief", "h:1", "--worker-id", "tuner0"], "do not combine"),
    (["--chief", "h:1"], "go together"),
    (["--chief", "h", "--worker-id", "tuner0"], "HOST:PORT"),
])
def test_bad_flag_combinations_are_refused(tmp_path, argv, message):
    with pytest.raises(SystemExit, match=message):
        cli.main(_spec(tmp_path, trials=1, steps=1) + argv)
