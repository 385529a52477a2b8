"""Resume after faults: writes that fail half-way, and `seqkeras train` killed with
SIGKILL at random moments, again and again, until the run completes."""

from __future__ import annotations

import csv
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import contract_fixtures
from seqkeras.pipeline.resume import (STATE_FILE, TEMP_PREFIX, EpochCheckpoint, ResumableBackup, atomic_write,
                                      remove_temporaries, resumed_epoch, save_weights_atomically, trim_history)


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.1), loss="mse")
    return model


X, Y = np.ones((8, 3), np.float32), np.zeros((8, 2), np.float32)


def test_a_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def half_then_crash(name):
        with open(name, "w") as stream:
            stream.write("ne")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_crash)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_temporaries_of_a_killed_write_are_removed_and_nothing_else(tmp_path):
    # What a SIGKILL inside `atomic_write` leaves: the temporary, never renamed.
    killed = subprocess.run([sys.executable, "-c", (
        "import os, sys; from seqkeras.pipeline.resume import atomic_write\n"
        "def write(name):\n    open(name, 'w').write('half'); os._exit(9)\n"
        f"atomic_write({str(tmp_path / 'epoch_003.weights.h5')!r}, write)")])
    assert killed.returncode == 9
    (tmp_path / "epoch_002.weights.h5").write_text("kept")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / f"{TEMP_PREFIX}x").write_text("not ours")
    assert sorted(p.name.startswith(TEMP_PREFIX) for p in tmp_path.glob("*.h5")) == [False, True]
    remove_temporaries(tmp_path, tmp_path / "absent")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_002.weights.h5", "sub"]
    assert (tmp_path / "sub" / f"{TEMP_PREFIX}x").exists()


class CrashInWeightsWrite(keras.callbacks.Callback):
    """Make the backup's weights write of epoch `epoch` die after writing part of the file."""

    def __init__(self, epoch, monkeypatch):
        super().__init__()
        self.epoch = epoch
        self.monkeypatch = monkeypatch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            def partial(path, data):
                with open(path, "wb") as stream:
                    stream.write(data[:100])  # a half-written HDF5 file
                raise KeyboardInterrupt("killed while writing the backup")

            self.monkeypatch.setattr(pathlib.Path, "write_bytes", partial)


def test_a_backup_killed_while_writing_resumes_from_the_previous_epoch(tmp_path, monkeypatch):
    backup = tmp_path / "backup"
    model = _model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, Y, epochs=5, verbose=0,
                  callbacks=[CrashInWeightsWrite(2, monkeypatch), ResumableBackup(backup)])
    monkeypatch.undo()
    assert resumed_epoch(backup) == 2            # epoch index 2 never reached the state file
    expected = [w.copy() for w in _reference_weights(epochs=2)]
    resumed = _model()
    seen = []
    callback = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))
    resumed.fit(X, Y, epochs=2, verbose=0, callbacks=[ResumableBackup(backup, delete_on_end=False), callback])
    assert seen == []                             # both epochs were already done: nothing reruns
    for a, b in zip(resumed.get_weights(), expected):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert sorted(p.name for p in backup.iterdir()) == ["epoch_2.weights.h5", STATE_FILE]


def test_weights_built_in_memory_are_keras_own_file(tmp_path):
    model = _model()
    model.fit(X, Y, epochs=2, verbose=0)
    save_weights_atomically(model, tmp_path / "ours.weights.h5")
    model.save_weights(str(tmp_path / "keras.weights.h5"))
    ours, theirs = _model(), _model()
    for copy, name in ((ours, "ours"), (theirs, "keras")):
        copy.optimizer.build(copy.trainable_variables)
        copy.load_weights(str(tmp_path / f"{name}.weights.h5"))
    for a, b in zip(ours.variables + ours.optimizer.variables, theirs.variables + theirs.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(np.asarray(ours.optimizer.iterations)) == 2


def _reference_weights(epochs):
    model = _model()
    model.fit(X, Y, epochs=epochs, verbose=0)
    return model.get_weights()


class InterruptAfter(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    backup = tmp_path / "backup"
    model = _model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, Y, epochs=4, verbose=0, callbacks=[ResumableBackup(backup), InterruptAfter(1)])
    resumed = _model()
    resumed.fit(X, Y, epochs=4, verbose=0, callbacks=[ResumableBackup(backup)])
    for a, b in zip(resumed.get_weights(), _reference_weights(epochs=4)):
        np.testing.assert_allclose(a, b, rtol=1e-5)   # optimizer slots were restored too
    assert not backup.exists()


def test_checkpoints_are_written_atomically(tmp_path):
    model = _model()
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[EpochCheckpoint(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_001.weights.h5", "epoch_002.weights.h5"]


def test_history_keeps_one_row_per_backed_up_epoch(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,loss\n0,1.0\n1,0.9\n2,0.8\n", encoding="utf-8")
    trim_history(history, 2)
    assert list(csv.reader(history.open())) == [["epoch", "loss"], ["0", "1.0"], ["1", "0.9"]]


def _train_command(spec_file, data, work):
    return [sys.executable, "-m", "seqkeras.cli", "train", str(spec_file), "--data-dir", str(data),
            "--work-dir", str(work)]


def test_train_killed_at_random_moments_resumes_and_completes(tmp_path):
    """SIGKILL a real `seqkeras train` at random moments (start-up, mid-epoch, while
    writing checkpoints, during evaluation); each restart resumes; the run completes
    with one history row per epoch, loadable weights, and the metrics of an
    uninterrupted run (not its exact weights: a restarted input pipeline reshuffles
    from its first epoch's order)."""
    data = tmp_path / "data"
    data.mkdir()
    text = contract_fixtures.classification(data)
    spec_file = tmp_path / "spec.toml"
    epochs = 30
    spec_file.write_text(text[:text.index("[tuning]")].replace("epochs = 1", f"epochs = {epochs}"),
                         encoding="utf-8")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    rng = random.Random(0)
    reference = subprocess.run(_train_command(spec_file, data, tmp_path / "reference"), capture_output=True,
                               text=True, timeout=600, env=env)
    assert reference.returncode == 0, reference.stderr[-3000:]
    work = tmp_path / "runs"
    history = work / "contract_classification" / "history.csv"

    def epochs_logged():
        return max(0, len(history.read_text().splitlines()) - 1) if history.is_file() else 0

    # Kill points: during start-up, then a random fraction of a second after the 5th,
    # 12th and 20th logged epoch (mid-epoch, inside a checkpoint or backup write, or in
    # the validation pass), then let the run finish.
    kills = 0
    for after_epochs in (None, 5, 12, 20, "finish"):
        process = subprocess.Popen(_train_command(spec_file, data, work), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=env)
        if after_epochs == "finish":
            out, err = process.communicate(timeout=600)
            assert process.returncode == 0, err[-3000:]
            break
        deadline = time.time() + 300
        while after_epochs is not None and epochs_logged() < after_epochs and process.poll() is None:
            assert time.time() < deadline
            time.sleep(0.05)
        time.sleep(rng.uniform(0.5, 1.5) if after_epochs is None else rng.uniform(0.0, 0.4))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.communicate()
    assert kills >= 3, "the run finished before it could be killed three times"
    run = work / "contract_classification"
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert [int(r["epoch"]) for r in rows] == list(range(epochs))
    assert not (run / "backup").exists() and not list(run.rglob(".tmp-*"))
    final = json.loads(out[out.index("{"):])["validation"]
    expected = json.loads(reference.stdout[reference.stdout.index("{"):])["validation"]
    assert final["accuracy"] == pytest.approx(expected["accuracy"], abs=0.1)


def test_tune_killed_mid_trial_keeps_completed_trials_and_does_not_rerun_them(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    spec_file = tmp_path / "lm.toml"
    spec_file.write_text(contract_fixtures.language_model(data), encoding="utf-8")
    command = [sys.executable, "-m", "seqkeras.cli", "tune", str(spec_file), "--data-dir", str(data),
               "--work-dir", str(tmp_path / "runs"), "--set", "tuning.steps_per_epoch=300"]
    search = tmp_path / "runs" / "contract_language_model" / "tuner" / "search"

    def statuses():
        return {p.parent.name: json.loads(p.read_text())["status"] for p in search.glob("trial_*/trial.json")}

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    deadline = time.time() + 300
    while statuses() != {"trial_0": "COMPLETED", "trial_1": "RUNNING"}:   # killed inside the second trial
        assert time.time() < deadline and process.poll() is None, statuses()
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert statuses() == {"trial_0": "COMPLETED", "trial_1": "COMPLETED"}
    oracle = json.loads((search / "oracle.json").read_text())
    assert oracle["run_times"] == {"0": 1, "1": 1}        # the completed trial did not run again
    assert json.loads((search.parent.parent / "best_hyperparameters.json").read_text())
