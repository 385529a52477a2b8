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
from seqkeras.pipeline.tuning import DistinctBayesianOracle, drop_ended_from_ongoing


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
        try:
            trial = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue        # keras-tuner is writing it in place (not atomically): read it at the next poll
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


def _kill_the_chief_after(tmp_path, argv, workers: int, completed: int):
    """Run a local search and SIGKILL its chief once `completed` trials are COMPLETED;
    returns (search, display, the launcher's exit code)."""
    display = Lines()
    search = LocalSearch(argv[1:], workers=workers, output=display)
    thread, result = _run_in_thread(search)
    display.wait_for(lambda text: list(_trials(tmp_path).values()).count("COMPLETED") >= completed, timeout=400)
    os.kill(search.processes["chief"].pid, signal.SIGKILL)
    thread.join(120)
    return search, display, result.get("code")


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
    search, display, code = _kill_the_chief_after(tmp_path, argv, workers=1, completed=1)
    assert code == 1 and "the chief exited with code -9: stopping the workers" in display.getvalue()
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


def test_bayesian_oracle_in_parallel_and_a_killed_search_restarted_with_workers_reloading_it(tmp_path):
    """keras-tuner's Bayesian oracle serving two workers (its Gaussian process is fitted
    while other trials are still running), then the chief killed mid-search and the whole
    search started again with two workers on the same directory: the chief and both
    workers reload the shared state (keras-tuner#301, #976), the search completes, and no
    trial completed before the kill runs again."""
    argv = _spec(tmp_path, trials=6, steps=4)
    spec = tmp_path / "lm.toml"
    text = spec.read_text(encoding="utf-8").replace('tuner = "random"', 'tuner = "bayesian"')
    # One dimension: 3 random initial points, then 3 trials proposed by the Gaussian process.
    spec.write_text(text.replace('"model.cell" = ["gru", "lstm:cifg"]', '"model.units" = {min = 2, max = 16, step = 1}'),
                    encoding="utf-8")
    assert _kill_the_chief_after(tmp_path, argv, workers=2, completed=4)[2] == 1
    completed_before = {t for t, status in _trials(tmp_path).items() if status == "COMPLETED"}
    display = Lines()
    assert LocalSearch(argv[1:], workers=2, output=display).run() == 0, display.getvalue()[-4000:]
    trials = _trials(tmp_path)
    assert sorted(trials.values()) == ["COMPLETED"] * 6
    search_dir = tmp_path / "runs" / "contract_language_model" / "tuner" / "search"
    oracle = json.loads((search_dir / "oracle.json").read_text())
    assert all(oracle["run_times"][t] == 1 for t in completed_before), oracle["run_times"]
    units = [json.loads((search_dir / f"trial_{t}" / "trial.json").read_text())["hyperparameters"]["values"]
             ["model.units"] for t in sorted(trials)]
    assert len(set(units)) == 6, units      # no point proposed twice (to two workers at once)


def test_an_ended_trial_left_ongoing_in_the_oracle_state_is_dropped(tmp_path):
    """keras-tuner saves oracle.json in `end_trial` before it pops the trial from the
    ongoing ones: the state a killed chief leaves names a completed trial as ongoing."""
    for trial_id, status in (("3", "COMPLETED"), ("4", "RUNNING"), ("5", "FAILED")):
        (tmp_path / f"trial_{trial_id}").mkdir()
        (tmp_path / f"trial_{trial_id}" / "trial.json").write_text(json.dumps({"status": status}))
    (tmp_path / "oracle.json").write_text(json.dumps(
        {"ongoing_trials": {"tuner0": "3", "tuner1": "4", "tuner2": "5"}, "end_order": ["3"]}))
    assert drop_ended_from_ongoing(tmp_path) == ["3", "5"]
    state = json.loads((tmp_path / "oracle.json").read_text())
    assert state == {"ongoing_trials": {"tuner1": "4"}, "end_order": ["3"]}
    assert drop_ended_from_ongoing(tmp_path) == [] and drop_ended_from_ongoing(tmp_path / "absent") == []


def test_the_bayesian_oracle_replaces_a_point_already_tried(monkeypatch):
    import keras_tuner

    space = keras_tuner.HyperParameters()
    space.Int("units", 2, 16)
    oracle = DistinctBayesianOracle(objective=keras_tuner.Objective("val_loss", "min"), max_trials=10, seed=0,
                                    hyperparameters=space)
    oracle._tried_so_far.add(oracle._compute_values_hash({"units": 5}))
    monkeypatch.setattr(keras_tuner.oracles.BayesianOptimizationOracle, "populate_space",
                        lambda self, trial_id: {"status": "RUNNING", "values": {"units": 5}})
    for trial in range(20):
        values = oracle.populate_space(str(trial))["values"]
        assert values["units"] != 5 and 2 <= values["units"] <= 16
    monkeypatch.setattr(keras_tuner.oracles.BayesianOptimizationOracle, "populate_space",
                        lambda self, trial_id: {"status": "RUNNING", "values": {"units": 7}})
    assert oracle.populate_space("x")["values"] == {"units": 7}      # an untried proposal is kept
