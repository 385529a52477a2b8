"""The application contract is checked: registration, shared keys, one cell spelling,
and the shared exporter's all-or-nothing write."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from seqkeras.pipeline import Application, PipelineSpec, SpecError, load_spec, registry
from seqkeras.pipeline.application import check_application
from seqkeras.serving import Exporter, WarmupRequest


@dataclasses.dataclass
class ToySpec(PipelineSpec):
    unsupported_keys = ("training.clip_norm",)
    application: str = "toy"


class Toy(Application):
    name = "toy"
    spec_class = ToySpec

    def build_data(self, spec, data_dir, run_dir):
        raise NotImplementedError

    def build_model(self, spec, data):
        raise NotImplementedError

    def evaluate(self, spec, model, data):
        return {}

    def exporter(self, spec, model, data):
        raise NotImplementedError


def test_every_builtin_application_passes_registration():
    for name in registry.names():
        app = registry.get(name)
        assert isinstance(app, Application) and app.name == name


def test_registration_rejects_a_broken_application():
    check_application(Toy, "toy")

    class Incomplete(Application):
        name, spec_class = "toy", ToySpec

        def build_data(self, spec, data_dir, run_dir):
            pass

    with pytest.raises(TypeError, match="does not implement"):
        check_application(Incomplete, "toy")

    class SwappedArguments(Toy):
        def evaluate(self, model, spec, data):
            return {}

    with pytest.raises(TypeError, match=r"evaluate.*must take \('self', 'spec', 'model', 'data'\)"):
        check_application(SwappedArguments, "toy")
    with pytest.raises(TypeError, match="name"):
        check_application(Toy, "other")
    with pytest.raises(TypeError, match="not a subclass"):
        check_application(object, "toy")


def test_a_shared_key_the_application_cannot_honour_fails_at_load_time(tmp_path):
    spec = tmp_path / "w2v.toml"
    spec.write_text('application = "word2vec"\n[training]\nclip_norm = 1.0\n')
    with pytest.raises(SpecError) as error:
        load_spec(spec)
    assert "training.clip_norm" in str(error.value) and str(spec) in str(error.value)
    assert "word2vec" in str(error.value)
    with pytest.raises(SpecError, match=r"tuning\.space\.training\.clip_norm"):
        ToySpec(tuning=dataclasses.replace(ToySpec().tuning, space={"training.clip_norm": [1.0]})).validate()
    ToySpec().validate()                                        # the default is fine


def test_one_spelling_of_cell_variants(tmp_path):
    spec = tmp_path / "lm.toml"
    spec.write_text('application = "language_model"\n[model]\ncell = "lstm-cifg"\n')
    with pytest.raises(SpecError, match=r"\[model\.cell\].*'lstm:cifg'"):
        load_spec(spec)
    spec.write_text('application = "language_model"\n[model]\ncell = "gru:cifg"\n')
    with pytest.raises(SpecError, match="only the LSTM has variants"):
        load_spec(spec)
    spec.write_text('application = "language_model"\n[model]\ncell = "lstm:cifg"\n')
    assert load_spec(spec).model.cell == "lstm:cifg"


class Doubler(Exporter):
    def __init__(self, broken=False):
        super().__init__()
        self.broken = broken

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def double(self, x):
        return {"y": 2.0 * x}

    def signatures(self):
        return {"serving_default": self.double.get_concrete_function()}

    def warmup_requests(self):
        return [WarmupRequest("serving_default", {"x": np.array([1.0, 2.0], np.float32)})]

    def check_outputs(self, outputs):
        if self.broken or not np.allclose(outputs["serving_default"]["y"], [2.0, 4.0]):
            raise RuntimeError("wrong answer")


def test_exporter_publishes_a_checked_version_or_nothing(tmp_path):
    path = Doubler().export(tmp_path, "doubler")
    assert path == tmp_path / "doubler" / "1" and (path / "assets.extra" / "tf_serving_warmup_requests").is_file()
    with pytest.raises(RuntimeError, match="wrong answer"):
        Doubler(broken=True).export(tmp_path, "doubler")
    assert sorted(p.name for p in (tmp_path / "doubler").iterdir()) == ["1"]


def test_exporter_requires_a_warmup_request_per_signature(tmp_path):
    class Silent(Doubler):
        def warmup_requests(self):
            return []

    with pytest.raises(ValueError, match="sends nothing to"):
        Silent().export(tmp_path, "silent")
    assert not (tmp_path / "silent").exists() or not any((tmp_path / "silent").iterdir())


def test_tuning_trials_follow_the_spec_schedule():
    import keras
    import keras_tuner

    from seqkeras.pipeline.spec import with_overrides
    from seqkeras.pipeline.tuning import SpecHyperModel

    spec = with_overrides(ToySpec(), {"training.schedule.kind": "zaremba", "training.schedule.decay": 0.5,
                                      "training.schedule.decay_after": 1, "training.max_minutes": 1e-9,
                                      "tuning.epochs": 3})
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x, y = np.ones((8, 2), np.float32), np.ones((8, 1), np.float32)
    history = SpecHyperModel(Toy(), spec, data=None).fit(keras_tuner.HyperParameters(), model, x=x, y=y,
                                                        epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3                       # the training time budget does not stop a trial
    assert np.isclose(float(model.optimizer.learning_rate), 0.1 * 0.5 ** 2)
