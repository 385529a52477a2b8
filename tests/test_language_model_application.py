"""The language-model application's hooks: spec checks, starter keys, exporter settings."""

import gzip

import pytest

from seqkeras.language_model import LanguageModelApplication, LanguageModelData, LanguageModelServer, Spec
from seqkeras.pipeline import registry
from seqkeras.pipeline.spec import SpecError, with_overrides

TEXT = "to be or not to be\nthat is the question\n" * 10


def test_registered_application():
    app = registry.get("language_model")
    assert isinstance(app, LanguageModelApplication) and app.spec_class is Spec


@pytest.mark.parametrize("key, value, message", [
    ("model.dropout", 1.0, r"\[model\.dropout\] must be in \[0, 1\)"),
    ("data.validation_fraction", -0.1, r"\[data\.validation_fraction\]"),
    ("model.units", 0, r"\[model\.units\] must be ≥ 1"),
    ("training.bptt_length", 0, r"\[training\.bptt_length\]"),
    ("model.cell", "lstm-cifg", r"'lstm:cifg'"),
])
def test_spec_checks_name_the_key(key, value, message):
    with pytest.raises(SpecError, match=message):
        with_overrides(Spec(), {key: value}).validate()


@pytest.mark.parametrize("key", ["training.batch_size", "training.bptt_length", "data.lowercase"])
def test_keys_that_shape_the_windows_are_not_tunable(key):
    spec = with_overrides(Spec(), {"tuning.space": {key: [1, 2] if key != "data.lowercase" else [True, False]}})
    with pytest.raises(SpecError, match=rf"tuning\.space\.{key}.*not tunable"):
        spec.validate()


def test_starter_sets_the_corpus_files(tmp_path):
    app = registry.get("language_model")
    train, valid = tmp_path / "train.txt.gz", tmp_path / "valid.txt"
    with gzip.open(train, "wt", encoding="utf-8") as stream:
        stream.write(TEXT)
    valid.write_text("to be\n")
    assert app.starter([str(train)]) == {"data.train": str(train)}
    assert app.starter([str(train), str(valid)]) == {"data.train": str(train), "data.validation": str(valid)}
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="UTF-8"):
        app.starter([str(binary)])
    with pytest.raises(ValueError, match="at least two lines"):
        app.starter([str(valid)])
    with pytest.raises(ValueError, match="3 files"):
        app.starter([str(train), str(valid), str(valid)])


def test_exporter_reads_the_shared_token_limit(tmp_path):
    (tmp_path / "corpus.txt").write_text(TEXT)
    spec = with_overrides(Spec(), {"data.train": str(tmp_path / "corpus.txt"), "data.validation_fraction": 0.2,
                                   "model.layers": 1, "model.units": 8, "model.jit_compile": "false",
                                   "training.batch_size": 2, "training.bptt_length": 5})
    app = registry.get("language_model")
    data = app.build_data(spec, None, tmp_path)
    assert isinstance(data, LanguageModelData) and (tmp_path / "vocabulary.txt").is_file()
    model = app.make_model(spec, data)
    server = app.exporter(spec, model, data)
    assert isinstance(server, LanguageModelServer) and server.max_prompt_tokens == 2048
    limited = app.exporter(with_overrides(spec, {"export.max_tokens": 7}), model, data)
    assert limited.max_prompt_tokens == 7
    assert set(app.evaluate(spec, model, data)) == {"nll", "tokens", "perplexity", "bits_per_character"}
