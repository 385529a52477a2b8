"""End to end: a tiny synthetic parallel corpus through `seqkeras run` (runner.run),
then the exported SavedModel reloaded where seqkeras cannot be imported, including
bad serving inputs (empty, over-long, invalid UTF-8, empty batch); the starter spec of
``seqkeras init translation``."""

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from without_seqkeras import call_signatures

from seqkeras.pipeline import SpecError, load_spec, registry, runner
from seqkeras.pipeline.run_paths import RunPaths
from seqkeras.pipeline.spec import with_overrides
from seqkeras.pipeline.starter import starter_toml
from seqkeras.translation import make_server

WORDS = "ab cd ef gh ij kl mn op".split()


def _corpus(directory: pathlib.Path, n: int, name: str, seed: int):
    """Source: 2–5 random words; target: the same words upper-cased (a tiny 'translation')."""
    rng = np.random.default_rng(seed)
    sources = [" ".join(rng.choice(WORDS, rng.integers(2, 6))) for _ in range(n)]
    (directory / f"{name}.src").write_text("\n".join(sources) + "\n")
    (directory / f"{name}.tgt").write_text("\n".join(s.upper() for s in sources) + "\n")


SPEC = """
application = "translation"
name = "toy_mt"
evaluate_limit = 40
samples = 1
[data]
train_source = "train.src"
train_target = "train.tgt"
validation_source = "val.src"
validation_target = "val.tgt"
source_vocab_size = 24
target_vocab_size = 24
[model]
cell = "gru"
attention = "luong"
embedding_dim = 16
encoder_units = 16
units = 32
dropout = 0.0
[decoding]
beam_width = 3
max_length_b = 4
[training]
learning_rate = 0.01
batch_size = 32
epochs = 6
label_smoothing = 0.0
[export]
version_policy = "fixed"
version = 1
"""

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy_mt")
    _corpus(root, 400, "train", 0)
    _corpus(root, 40, "val", 1)
    (root / "toy_mt.toml").write_text(SPEC)
    spec = load_spec(root / "toy_mt.toml")
    report = runner.run(spec, data_dir=root, output=root / "saved_models", work_dir=root / "runs", verbose=0)
    return root, report


def test_run_reports_bleu_and_exports(trained):
    root, report = trained
    metrics = report["validation"]
    for key in ("bleu_greedy", "bleu_beam", "validation_loss"):
        assert np.isfinite(metrics[key])
    assert metrics["bleu_beam"] > 20.0, metrics            # the toy task is learnt in seconds
    assert pathlib.Path(report["export"]) == root / "saved_models" / "toy_mt" / "1"
    assert (root / "saved_models/toy_mt/1/assets.extra/tf_serving_warmup_requests").is_file()
    assert (root / "runs/toy_mt/vocabulary.txt").is_file() and (root / "runs/toy_mt/vocabulary.source.txt").is_file()
    assert json.loads((root / "runs/toy_mt/report.json").read_text())["validation"]["sentences"] == 40
    assert len(report["samples"]) == 1 and isinstance(report["samples"][0]["translation"], str)


def test_export_serves_without_seqkeras_and_handles_bad_input(trained):
    root, _ = trained
    version = root / "saved_models/toy_mt/1"
    calls = [("serving_default", {"source": ["ab cd ef", "gh ij"]}),
             ("serving_default", {"source": ["", "   ", " ".join(["ab"] * 500)]}),
             ("translate", {"source": ["ab cd ef"], "beam_width": 1, "max_length": 0}),
             ("translate", {"source": ["ab cd ef"], "beam_width": 99, "max_length": 2}),
             ("translate", {"source": [], "beam_width": 2, "max_length": 5})]
    signatures, (good, bad, width1, capped, empty_batch) = call_signatures(version, calls)
    assert {"serving_default", "translate"} <= set(signatures)
    assert all(isinstance(t, str) for t in good["translation"]) and isinstance(width1["translation"][0], str)
    assert all(s <= 0 for s in good["score"])
    empty, blank, long = bad["translation"]
    assert empty == "" and blank == "" and list(bad["score"][:2]) == [0.0, 0.0]
    assert np.isfinite(bad["score"][2]) and isinstance(long, str)
    assert len(capped["translation"][0].split()) <= 2                  # max_length=2 tokens
    assert empty_batch["translation"].shape == (0,) and empty_batch["score"].shape == (0,)
    # invalid UTF-8 cannot travel as JSON: call the same export in this process
    out = tf.saved_model.load(str(version)).signatures["serving_default"](
        source=tf.constant([b"ab \xff\xfe cd"]))
    assert isinstance(out["translation"].numpy()[0], bytes) and np.isfinite(out["score"].numpy()[0])


def test_export_max_tokens_truncates_the_served_source(trained):
    root, _ = trained
    spec = load_spec(root / "toy_mt.toml")
    paths = RunPaths.for_spec(spec, root / "runs")
    data = runner.build_data(spec, root, paths)
    model = runner.load_trained(spec, data, paths)
    long = tf.constant([" ".join(["ab"] * 500)])
    assert make_server(spec, model, data).source_ids(long).shape[1] == 128 + 1     # 0 = the default, + 1 pad
    short = with_overrides(spec, {"export.max_tokens": 3})
    assert make_server(short, model, data).source_ids(long).shape[1] == 3 + 1


def test_spec_errors_name_the_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(SPEC.replace('attention = "luong"', 'attention = "cosine"'))
    with pytest.raises(SpecError, match="model.attention"):
        load_spec(path)
    path.write_text(SPEC.replace("[decoding]", "[decoding]\nwidth = 3"))
    with pytest.raises(SpecError, match="decoding.width"):
        load_spec(path)
    path.write_text(SPEC.replace("[data]", "[data]\nmax_source_tokens = 64"))
    with pytest.raises(SpecError, match="data.max_source_tokens"):   # the serving limit is export.max_tokens
        load_spec(path)


def test_starter_spec_for_a_parallel_pair(tmp_path):
    app = registry.get("translation")
    (tmp_path / "train.de").write_text("ein hund\nzwei katzen\n")
    (tmp_path / "train.en").write_text("a dog\ntwo cats\n")
    files = [str(tmp_path / "train.de"), str(tmp_path / "train.en")]
    keys = app.starter(files)
    assert keys["data.train_source"] == files[0] and keys["data.train_target"] == files[1]
    assert keys["data.validation_source"] == keys["data.validation_target"] == ""
    (tmp_path / "dev.de").write_text("ein hund\n")
    (tmp_path / "dev.en").write_text("a dog\n")
    keys = app.starter(files)
    assert (keys["data.validation_source"], keys["data.validation_target"]) == (
        str(tmp_path / "dev.de"), str(tmp_path / "dev.en"))
    path = tmp_path / "my_translation.toml"
    path.write_text(starter_toml(app, files, "my_translation"))
    spec = load_spec(path)                                       # the written spec loads
    assert spec.data.train_source == files[0] and spec.data.validation_target == str(tmp_path / "dev.en")
    with pytest.raises(ValueError, match="two line-aligned files"):
        app.starter(files[:1])
    (tmp_path / "short.en").write_text("a dog\n")
    with pytest.raises(ValueError, match="differ in length"):
        app.starter([files[0], str(tmp_path / "short.en")])
