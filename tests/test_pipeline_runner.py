"""The shared flow end to end on a tiny corpus: run, resume after interruption, tuning."""

import json
import pathlib

import keras
import numpy as np
import pytest

from seqkeras import cli
from seqkeras.pipeline import load_spec, runner
from seqkeras.pipeline.training import read_history

TEXT = "to be or not to be that is the question\nwhether tis nobler in the mind to suffer\n" * 40


@pytest.fixture
def tiny(tmp_path):
    (tmp_path / "corpus.txt").write_text(TEXT)
    spec = tmp_path / "tiny_lm.toml"
    spec.write_text(f"""
application = "language_model"
name = "tiny_lm"
generate_prompt = "to be"
generate_length = 20
[data]
train = "{tmp_path / 'corpus.txt'}"
validation_fraction = 0.2
level = "char"
tokenizer = "character"
newline = "char"
[model]
cell = "gru"
layers = 1
units = 8
jit_compile = "false"
[training]
optimizer = "adam"
learning_rate = 0.01
epochs = 2
batch_size = 4
bptt_length = 10
steps_per_epoch = 5
validation_steps = 2
[tuning]
tuner = "random"
max_trials = 2
epochs = 1
steps_per_epoch = 2
validation_steps = 1
[tuning.space]
"model.cell" = ["gru", "lstm:cifg"]
"model.units" = [4, 8]
"model.tie_embeddings" = [true, false]
""")
    return spec


def test_run_end_to_end_via_cli(tiny, tmp_path, capsys):
    work, output = tmp_path / "runs", tmp_path / "saved"
    assert cli.main(["run", str(tiny), "--work-dir", str(work), "--output", str(output), "--no-tune"]) == 0
    paths = runner.RunPaths(work / "tiny_lm")
    report = json.loads(paths.report.read_text())
    assert report["epochs"] == 2
    assert report["validation"]["bits_per_character"] > 0
    assert paths.learning_curve.is_file() and paths.weights.is_file() and paths.vocabulary.is_file()
    assert len(list(paths.checkpoints.glob("epoch_*.weights.h5"))) == 2
    assert list(paths.logs.rglob("events.out.tfevents.*"))
    assert not paths.backup.exists()                       # removed once training completed
    history = read_history(paths.history)
    assert history["epoch"] == [0.0, 1.0] and "val_bits_per_character" in history
    assert report["sample"].startswith("to be") and "generated text" in capsys.readouterr().out
    if report.get("export"):
        assert (pathlib.Path(report["export"]) / "saved_model.pb").is_file()
        assert pathlib.Path(report["export"]).parent == output / "tiny_lm"


class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise KeyboardInterrupt("simulated interruption")


class Epochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


def test_backup_and_restore_resumes(tiny, tmp_path):
    spec = load_spec(tiny, {"training.epochs": 3})
    paths = runner.RunPaths.for_spec(spec, tmp_path / "runs")
    data = runner.build_data(spec, None, paths)
    with pytest.raises(KeyboardInterrupt):
        runner.train(spec, data, paths, verbose=0, extra_callbacks=[Interrupt()])
    assert paths.backup.exists()
    epochs = Epochs()
    model, history = runner.train(spec, data, paths, verbose=0, extra_callbacks=[epochs])
    assert epochs.seen == [1, 2]                           # resumed after the finished epoch 0
    assert history["epoch"] == [0.0, 1.0, 2.0]
    assert not paths.backup.exists()


def test_a_command_killed_after_training_resumes_without_training_again(tiny, tmp_path):
    """`train`/`run` keep the backup until evaluation and export are done: killed there,
    the command run again trains no epoch and starts from the trained weights."""
    spec = load_spec(tiny, {"training.epochs": 2})
    paths = runner.RunPaths.for_spec(spec, tmp_path / "runs")
    data = runner.build_data(spec, None, paths)
    trained, _ = runner.train(spec, data, paths, verbose=0, keep_backup=True)
    assert paths.backup.exists() and paths.weights.is_file()   # ... and then killed in the evaluation
    epochs = Epochs()
    again, history = runner.train(spec, data, paths, verbose=0, keep_backup=True, extra_callbacks=[epochs])
    assert epochs.seen == [] and history["epoch"] == [0.0, 1.0]
    for a, b in zip(again.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)
    runner.discard_backup(paths)
    epochs = Epochs()
    runner.train(spec, data, paths, verbose=0, extra_callbacks=[epochs])
    assert epochs.seen == [0, 1] and not paths.backup.exists()   # a finished run trained again starts afresh


def test_tuner_resumes_and_summarises(tiny, tmp_path):
    spec = load_spec(tiny, {"tuning.max_trials": 1})
    paths = runner.RunPaths.for_spec(spec, tmp_path / "runs")
    data = runner.build_data(spec, None, paths)
    runner.search(spec, data, paths, verbose=0)
    more = load_spec(tiny, {"tuning.max_trials": 2})
    best = runner.search(more, data, paths, verbose=0)     # same directory: keeps trial 0
    trials = list((paths.tuner / "search").glob("trial_*"))
    assert len(trials) == 2
    assert set(best) == {"model.cell", "model.units", "model.tie_embeddings"}
    assert isinstance(best["model.tie_embeddings"], bool)  # keras-tuner stores a bool Choice as 1/0
    assert json.loads(paths.best_hyperparameters.read_text()) == best
    assert (paths.root / "tuning_summary.md").read_text().count("COMPLETED") == 2
    assert (paths.root / "tuning_trials.png").is_file()
    tuned = runner.apply_best_hyperparameters(spec, paths)
    assert tuned.model.units == best["model.units"]


def test_time_budget_counts_the_time_a_resumed_run_already_spent(capsys):
    from seqkeras.pipeline.training import TimeBudget

    x = keras.ops.ones((8, 2))
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    fresh = model.fit(x, x[:, :1], epochs=3, verbose=0, callbacks=[TimeBudget(minutes=10)])
    assert len(fresh.history["loss"]) == 3
    resumed = model.fit(x, x[:, :1], epochs=3, verbose=0, callbacks=[TimeBudget(minutes=10, spent_seconds=601)])
    assert len(resumed.history["loss"]) == 1               # the budget was already used up
    assert "time budget" in capsys.readouterr().out
    model.fit(x, x[:, :1], epochs=1, verbose=0, callbacks=[TimeBudget(minutes=10, spent_seconds=601)])
    assert "time budget" not in capsys.readouterr().out   # the last epoch: nothing was cut short


def test_tensorboard_logs_batch_level_loss(tmp_path, monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr(runner, "TENSORBOARD_BATCH_INTERVAL", 2)
    x = keras.ops.ones((8, 2))
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(x, x[:, :1], batch_size=2, epochs=1, verbose=0,
              callbacks=runner.tensorboard_callbacks(tmp_path / "logs"))
    tags = {value.tag for path in (tmp_path / "logs").rglob("events.out.tfevents.*")
            for event in tf.compat.v1.train.summary_iterator(str(path)) for value in event.summary.value}
    assert "batch_loss" in tags and "epoch_loss" in tags


def test_cosine_schedule_sets_the_rate_of_every_step_and_holds_then_anneals():
    import math

    import numpy as np

    from seqkeras.pipeline.spec import TrainingSpec
    from seqkeras.pipeline.training import CosineDecay, schedule_callbacks

    training = TrainingSpec(learning_rate=0.1, epochs=3)
    training.schedule.kind, training.schedule.decay_after, training.schedule.decay = "cosine", 1, 0.1
    [cosine] = schedule_callbacks(training, 0.1)
    assert isinstance(cosine, CosineDecay)

    class Rates(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_train_batch_begin(self, batch, logs=None):   # runs after the schedule's hook
            self.seen.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    x = keras.ops.ones((16, 2))
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    rates = Rates()
    model.fit(x, x[:, :1], batch_size=4, epochs=3, verbose=0, callbacks=[cosine, rates])
    # Epoch 0 holds 0.1; epochs 1-2 (8 steps) follow 0.01 + 0.09 (1 + cos(π s / 8)) / 2.
    expected = [0.1] * 4 + [0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * s / 8)) for s in range(8)]
    np.testing.assert_allclose(rates.seen, expected, rtol=1e-6)
    assert cosine.rate(3.0) == pytest.approx(0.01)
