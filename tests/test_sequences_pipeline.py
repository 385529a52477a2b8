"""The sequences spec, its shipped pipelines, the starter, and a run on the real file."""

from __future__ import annotations

import pathlib

import pytest

from seqkeras.data import DataError
from seqkeras.pipeline import registry, runner
from seqkeras.pipeline.registry import load_spec
from seqkeras.pipeline.spec import SpecError, with_overrides
from seqkeras.sequences.spec import Spec

PIPELINES = pathlib.Path(__file__).resolve().parents[1] / "pipelines"


@pytest.mark.parametrize("name, task", [("japanese_vowels", "classify"), ("japanese_vowels_frames", "label_frames")])
def test_shipped_pipelines_load(name, task):
    spec = load_spec(PIPELINES / f"{name}.toml")
    assert isinstance(spec, Spec) and spec.data.task == task and spec.data.folds == 5
    assert spec.data.train == "japanese_vowels/JapaneseVowels_TRAIN.ts"


@pytest.mark.parametrize("overrides, key", [
    ({"data.fold": 5}, "data.fold"),
    ({"data.folds": 1}, "data.folds"),
    ({"data.task": "regress"}, "data.task"),
    ({"data.min_turns": 4, "data.max_turns": 3}, "data.max_turns"),
    ({"model.pooling": "attention"}, "model.pooling"),
    ({"model.output": "hmm"}, "model.output"),
    ({"export.max_tokens": 10}, "export.max_tokens"),
])
def test_bad_values_name_the_key(overrides, key):
    spec = load_spec(PIPELINES / "japanese_vowels.toml")
    with pytest.raises(SpecError) as error:
        with_overrides(spec, overrides).validate()
    assert error.value.key == key


def test_starter_checks_the_file(tmp_path):
    app = registry.get("sequences")
    good = tmp_path / "a.ts"
    good.write_text("@classLabel true u v\n@data\n1,2:u\n")
    assert app.starter([str(good)]) == {"data.train": str(good)}
    unlabelled = tmp_path / "b.ts"
    unlabelled.write_text("@classLabel false\n@data\n1,2\n")
    with pytest.raises(ValueError, match="no class label"):
        app.starter([str(unlabelled)])
    plain = tmp_path / "c.csv"
    plain.write_text("1,2,u\n")
    with pytest.raises(DataError, match="before the @data line"):
        app.starter([str(plain)])


def test_a_short_run_on_the_real_file_beats_chance_beside_its_baseline(shared_data, tmp_path):
    spec = with_overrides(load_spec(PIPELINES / "japanese_vowels.toml"),
                          {"training.epochs": 2, "data.fold": 1, "model.jit_compile": "false"})
    report = runner.run(spec, data_dir=shared_data, work_dir=tmp_path, export_model=False, verbose=0)
    metrics = report["validation"]
    assert metrics["fold"] == 1 and report["data"]["validation_utterances"] == 54
    assert metrics["accuracy"] > 0.5 and metrics["baseline_accuracy"] > 0.5
    assert (tmp_path / "japanese_vowels" / "evaluation_fold1.json").is_file()
