"""End to end: a tiny synthetic parallel corpus through `seqkeras run` (runner.run),
then the exported SavedModel reloaded where seqkeras cannot be imported, including
bad serving inputs (empty, over-long, invalid UTF-8, empty batch)."""

import json
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from seqkeras.pipeline import SpecError, load_spec, runner

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

SERVE = textwrap.dedent("""
    import json, sys
    sys.modules["seqkeras"] = None          # the export must not need seqkeras
    import tensorflow as tf
    model = tf.saved_model.load(sys.argv[1])
    default, translate = model.signatures["serving_default"], model.signatures["translate"]
    def run(fn, sources, **kw):
        out = fn(source=tf.constant(sources, tf.string), **kw)
        return {"translation": [t.decode("utf-8") for t in out["translation"].numpy()],
                "score": [float(s) for s in out["score"].numpy()]}
    result = {
        "good": run(default, ["ab cd ef", "gh ij"]),
        "bad": run(default, ["", "   ", " ".join(["ab"] * 500), b"ab \\xff\\xfe cd"]),
        "width1": run(translate, ["ab cd ef"], beam_width=tf.constant(1), max_length=tf.constant(0)),
        "capped": run(translate, ["ab cd ef"], beam_width=tf.constant(99), max_length=tf.constant(2)),
        "empty_batch": run(translate, [], beam_width=tf.constant(2), max_length=tf.constant(5)),
        "signatures": sorted(model.signatures),
    }
    print("RESULT " + json.dumps(result))
""")


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


def test_export_serves_without_seqkeras_and_handles_bad_input(trained):
    root, _ = trained
    script = root / "serve.py"
    script.write_text(SERVE)
    done = subprocess.run([sys.executable, str(script), str(root / "saved_models/toy_mt/1")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(l for l in done.stdout.splitlines() if l.startswith("RESULT "))
    out = json.loads(line[len("RESULT "):])
    assert {"serving_default", "translate"} <= set(out["signatures"])
    assert all(isinstance(t, str) for t in out["good"]["translation"])
    assert all(s <= 0 for s in out["good"]["score"])
    empty, blank, long, invalid = (out["bad"]["translation"][i] for i in range(4))
    assert empty == "" and blank == "" and out["bad"]["score"][:2] == [0.0, 0.0]
    assert np.isfinite(out["bad"]["score"][2]) and np.isfinite(out["bad"]["score"][3])
    assert isinstance(long, str) and isinstance(invalid, str)
    assert len(out["capped"]["translation"][0].split()) <= 2            # max_length=2 tokens
    assert out["empty_batch"] == {"translation": [], "score": []}


def test_spec_errors_name_the_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(SPEC.replace('attention = "luong"', 'attention = "cosine"'))
    with pytest.raises(SpecError, match="model.attention"):
        load_spec(path)
    path.write_text(SPEC.replace("[decoding]", "[decoding]\nwidth = 3"))
    with pytest.raises(SpecError, match="decoding.width"):
        load_spec(path)
