"""The long-range tasks through the shared pipeline machinery (application "long_range")."""

import pathlib

import pytest

from seqkeras.pipeline import SpecError, load_spec, with_overrides
from seqkeras.pipeline import runner

PIPELINES = pathlib.Path(__file__).resolve().parents[1] / "pipelines"


@pytest.mark.parametrize("name", ["adding", "copy_memory", "agreement"])
def test_task_pipelines_load(name):
    spec = load_spec(PIPELINES / f"{name}.toml")
    assert spec.application == "long_range" and spec.data.task == name


def test_bad_values_name_the_key(tmp_path):
    text = (PIPELINES / "adding.toml").read_text().replace('cell = "lstm"', 'cell = "lstm-nope"')
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(SpecError, match="model.cell"):
        load_spec(tmp_path / "bad.toml")


def test_tiny_run_logs_clipping_and_scores(tmp_path):
    spec = load_spec(PIPELINES / "agreement.toml")
    spec = with_overrides(spec, {"data.lag": 3, "model.units": 8, "training.epochs": 1,
                                 "training.steps_per_epoch": 3, "data.validation_examples": 64})
    report = runner.run(spec, work_dir=tmp_path / "runs", output=tmp_path / "models", verbose=0)
    assert 0.0 <= report["validation"]["score"] <= 1.0
    assert "accuracy" in report["validation"]
