"""The long-range tasks through the shared pipeline machinery (application "long_range")."""

import pathlib

import numpy as np
import pytest
from without_seqkeras import call_signatures

from seqkeras.pipeline import SpecError, load_spec, registry, runner, with_overrides
from seqkeras.serving import read_warmup_requests

PIPELINES = pathlib.Path(__file__).resolve().parents[1] / "pipelines"


@pytest.mark.parametrize("name", ["adding", "copy_memory", "agreement"])
def test_task_pipelines_load(name):
    spec = load_spec(PIPELINES / f"{name}.toml")
    assert spec.application == "long_range" and spec.data.task == name


@pytest.mark.parametrize("line, key", [('cell = "lstm-nope"', "model.cell"), ("lag = 1", "data.lag"),
                                       ("steps_per_epoch = 0", "training.steps_per_epoch"),
                                       ("[export]\nmax_tokens = 10", "export.max_tokens")])
def test_bad_values_name_the_key(tmp_path, line, key):
    text = (PIPELINES / "adding.toml").read_text()
    text = text.replace({"model.cell": 'cell = "lstm"', "data.lag": "lag = 30",
                         "training.steps_per_epoch": "steps_per_epoch = 100",
                         "export.max_tokens": "[export]"}[key], line)
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(SpecError, match=key.replace(".", r"\.")):
        load_spec(tmp_path / "bad.toml")


def test_cells_take_the_colon_spelling():
    spec = with_overrides(load_spec(PIPELINES / "adding.toml"), {"model.cell": "lstm:nfg"})
    spec.validate()
    assert spec.model.cell == "lstm:nfg"


def test_tiny_run_logs_clipping_and_scores(tmp_path):
    spec = load_spec(PIPELINES / "agreement.toml")
    spec = with_overrides(spec, {"data.lag": 3, "model.units": 8, "training.epochs": 1,
                                 "training.steps_per_epoch": 3, "data.validation_examples": 64})
    report = runner.run(spec, work_dir=tmp_path / "runs", output=tmp_path / "models", verbose=0)
    assert 0.0 <= report["validation"]["score"] <= 1.0
    assert "accuracy" in report["validation"]
    assert report["export"] == str(tmp_path / "models" / "agreement" / "1")


@pytest.mark.parametrize("name, input_name", [("adding", "features"), ("copy_memory", "tokens"),
                                              ("agreement", "tokens")])
def test_export_answers_as_the_model_predicts(tmp_path, name, input_name):
    spec = with_overrides(load_spec(PIPELINES / f"{name}.toml"),
                          {"data.lag": 4, "model.units": 4, "data.validation_examples": 8})
    app = registry.get("long_range")
    data = app.build_data(spec, None, None)
    model = app.make_model(spec, data)
    path = runner.export(spec, model, data, tmp_path / "models")
    (_, request), = read_warmup_requests(path)
    assert set(request.inputs) == {input_name}

    x = data.task.arrays(data.lag, 5, seed=3)[0]
    signatures, (out,) = call_signatures(path, [("serving_default", {input_name: x.tolist()})])
    assert signatures == ["serving_default"]
    expected = model.predict(x, verbose=0)
    if data.task.kind == "regression":
        assert set(out) == {"value"}
        np.testing.assert_allclose(out["value"], expected[:, 0], rtol=1e-5, atol=1e-6)
    else:
        assert set(out) == {"probabilities", "class"}
        np.testing.assert_allclose(out["probabilities"], expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(out["class"], expected.argmax(-1))
