"""Pipeline specs: TOML → typed dataclasses, unknown keys and bad values are errors."""

import pathlib

import pytest

from seqkeras.language_model import Spec
from seqkeras.pipeline import registry
from seqkeras.pipeline.commands.common import parse_overrides
from seqkeras.pipeline.registry import load_spec
from seqkeras.pipeline.spec import SpecError, get_key, read_toml, to_dict, with_overrides

PIPELINES = pathlib.Path(__file__).resolve().parents[1] / "pipelines"

MINIMAL = """
application = "language_model"
[data]
train = "corpus.txt"
[model]
units = 16
"""


def write(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["ptb_word_lm", "ptb_char_lm", "shakespeare_char_lm"])
def test_shipped_pipelines_load(name):
    spec = load_spec(PIPELINES / f"{name}.toml")
    assert isinstance(spec, Spec)
    assert spec.name == name
    assert spec.model_name == name
    assert spec.training.bptt_length > 0


@pytest.mark.parametrize("path", sorted(PIPELINES.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_pipeline_loads_and_validates(path):
    spec = load_spec(path)
    assert spec.name == path.stem and spec.application == read_toml(path)["application"]
    spec.validate()


def test_defaults_and_types(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL))
    assert spec.model.units == 16 and spec.model.cell == "lstm"
    assert spec.name == "spec"                       # the file's stem
    assert spec.training.schedule.kind == "constant"
    assert isinstance(spec.training.learning_rate, float)


@pytest.mark.parametrize("text, key", [
    ("colour = 1\n" + MINIMAL, "colour"),
    (MINIMAL + "hidden = 3\n", "model.hidden"),
    (MINIMAL + "[training.schedule]\nkind = 'zaremba'\nfactor = 2\n", "training.schedule.factor"),
])
def test_unknown_key_names_key_and_file(tmp_path, text, key):
    path = write(tmp_path, text, "bad_spec.toml")
    with pytest.raises(SpecError) as error:
        load_spec(path)
    message = str(error.value)
    assert "bad_spec.toml" in message and repr(key) in message
    assert error.value.key == key


@pytest.mark.parametrize("text, key", [
    (MINIMAL.replace("units = 16", "units = 'big'"), "model.units"),
    (MINIMAL.replace("units = 16", "units = 16\ntie_embeddings = 1"), "model.tie_embeddings"),
    (MINIMAL + "[training]\nepochs = 0\n", "training.epochs"),
    (MINIMAL.replace("units = 16", "cell = 'transformer'"), "model.cell"),
    (MINIMAL + "[tuning.space]\n'model.width' = [1, 2]\n", "tuning.space.model.width"),
])
def test_bad_values_name_key_and_file(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(SpecError, match="spec.toml") as error:
        load_spec(path)
    assert error.value.key == key


def test_unknown_application_and_bad_toml(tmp_path):
    with pytest.raises(SpecError, match="unknown application 'chess'"):
        load_spec(write(tmp_path, 'application = "chess"\n'))
    with pytest.raises(SpecError, match="invalid TOML"):
        load_spec(write(tmp_path, "application = \n"))
    with pytest.raises(SpecError, match="no such pipeline spec"):
        load_spec(tmp_path / "missing.toml")


def test_overrides(tmp_path):
    spec = load_spec(write(tmp_path, MINIMAL), {"model.units": 32, "training.schedule.decay": 0.8})
    assert spec.model.units == 32 and spec.training.schedule.decay == 0.8
    other = with_overrides(spec, {"model.cell": "gru"})
    assert other.model.cell == "gru" and spec.model.cell == "lstm"   # a copy
    with pytest.raises(SpecError):
        with_overrides(spec, {"model.units": "x"})
    assert get_key(spec, "training.schedule.decay") == 0.8
    assert to_dict(spec)["model"]["units"] == 32
    assert parse_overrides(["model.units=64", "model.cell=gru", "training.learning_rate=1e-3"]) == {
        "model.units": 64, "model.cell": "gru", "training.learning_rate": 1e-3}


def test_registry(monkeypatch):
    assert "language_model" in registry.names()
    app = registry.get("language_model")
    assert registry.get("language_model") is app                 # one instance per name
    with pytest.raises(ValueError, match="module:Class"):
        registry.register("lm_alias", "seqkeras.language_model")
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry.register("lm_alias", "seqkeras.language_model:LanguageModelApplication")
    with pytest.raises(TypeError, match="name is 'language_model'"):  # the contract check runs on first use
        registry.get("lm_alias")
    with pytest.raises(KeyError):
        registry.get("nope")
    monkeypatch.undo()
    registry.get.cache_clear()
