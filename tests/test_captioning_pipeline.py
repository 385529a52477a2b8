"""End to end: generated images and captions through `seqkeras run`, then the export
reloaded where seqkeras cannot be imported, with good and bad images (not an image,
truncated, grayscale, RGBA, over the pixel limit, empty batch); `seqkeras predict`
with image files; spec errors; the starter spec; the real Flickr8k folder if present."""

import base64
import json
import os
import pathlib
import struct
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from without_seqkeras import call_signatures

from seqkeras.captioning.data import read_captions, read_splits
from seqkeras.pipeline import SpecError, load_spec, registry, runner
from seqkeras.pipeline.starter import starter_toml

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}
SHAPES = ("square", "stripe")

SPEC = """
application = "captioning"
name = "toy_captions"
evaluate_limit = 12
samples = 1
[data]
images = "images"
captions = "captions.tsv"
splits = "splits.tsv"
image_size = 32
captions_per_image = 3
min_count = 1
crop_padding = 2
[model]
encoder_width = 8
encoder_blocks = 2
cell = "gru"
units = 32
embedding_dim = 16
dropout = 0.0
[decoding]
beam_width = 2
max_length = 6
[serving]
max_image_pixels = 10000
[evaluation]
examples = 3
[training]
learning_rate = 0.01
batch_size = 16
epochs = 8
label_smoothing = 0.0
[export]
version_policy = "fixed"
version = 1
"""


def picture(colour: str, shape: str, rng, size: int = 32) -> np.ndarray:
    """A noisy `colour` background with a white square or a white horizontal stripe."""
    pixels = np.array(COLOURS[colour]) + rng.normal(0, 15, (size, size, 3))
    if shape == "square":
        pixels[size // 4:3 * size // 4, size // 4:3 * size // 4] = 255
    else:
        pixels[size // 2 - 2:size // 2 + 2, :] = 255
    return np.clip(pixels, 0, 255).astype(np.uint8)


def write_corpus(root: pathlib.Path, train: int = 90, dev: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    (root / "images").mkdir()
    captions, splits = ["image_id\tcaption"], ["image_id\tsplit"]
    for i in range(train + dev):
        colour, shape = list(COLOURS)[i % 3], SHAPES[(i // 3) % 2]
        (root / "images" / f"im{i}.jpg").write_bytes(tf.io.encode_jpeg(picture(colour, shape, rng)).numpy())
        captions += [f"im{i}\ta {colour} {shape} .", f"im{i}\tA {shape} on {colour} .", f"im{i}\t{colour} {shape}"]
        splits.append(f"im{i}\t{'dev' if i >= train else 'train'}")
    (root / "captions.tsv").write_text("\n".join(captions) + "\n")
    (root / "splits.tsv").write_text("\n".join(splits) + "\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy_captions")
    write_corpus(root)
    (root / "toy.toml").write_text(SPEC)
    report = runner.run(load_spec(root / "toy.toml"), data_dir=root, output=root / "saved_models",
                        work_dir=root / "runs", verbose=0)
    return root, report


def test_run_reports_bleu_beside_baselines_and_exports(trained):
    root, report = trained
    metrics = report["validation"]
    for key in ("bleu1_greedy", "bleu4_greedy", "bleu4_beam", "bleu4_constant", "bleu4_nearest", "validation_loss"):
        assert np.isfinite(metrics[key]), key
    assert metrics["bleu1_beam"] > 50.0, metrics              # colour and shape are learnt in seconds
    run = root / "runs/toy_captions"
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert set(evaluation["systems"]) == {"model, greedy", "model, beam 2", "constant caption", "nearest neighbour"}
    assert evaluation["constant_caption"] in (run / "examples.html").read_text()
    assert (run / "examples.html").read_text().count("data:image/jpeg;base64,") == 3
    assert (run / "examples.png").stat().st_size > 1000
    assert len((run / "captions_validation.tsv").read_text().splitlines()) == 1 + 12
    assert (run / "evaluation.txt").read_text().startswith("validation: 12 images")
    assert set(evaluation["systems_without_punctuation"]) == set(evaluation["systems"])
    assert pathlib.Path(report["export"]) == root / "saved_models/toy_captions/1"
    assert len(report["samples"]) == 1 and isinstance(report["samples"][0]["caption"], str)


def _b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode()}


def test_export_serves_images_without_seqkeras_and_handles_bad_input(trained):
    root, _ = trained
    rng = np.random.default_rng(5)
    red = picture("red", "square", rng)
    jpeg = tf.io.encode_jpeg(red).numpy()
    png = tf.io.encode_png(picture("blue", "stripe", rng)).numpy()
    gray = tf.io.encode_png(picture("green", "square", rng)[:, :, :1]).numpy()
    rgba = tf.io.encode_png(np.concatenate([red, np.full((32, 32, 1), 128, np.uint8)], -1)).numpy()
    wide = tf.io.encode_jpeg(np.repeat(red, 2, axis=1)).numpy()                          # 32 × 64, resized
    large = tf.io.encode_jpeg(np.zeros((120, 120, 3), np.uint8)).numpy()                  # > 10,000 pixels
    bomb = png[:16] + struct.pack(">II", 100_000, 100_000) + png[24:]                     # header lies, not decoded
    calls = [("serving_default", {"image": [_b64(jpeg), _b64(png), _b64(gray), _b64(rgba), _b64(wide)]}),
             ("serving_default", {"image": [_b64(b"not an image"), _b64(jpeg[:60]), _b64(large), _b64(bomb),
                                            _b64(b"")]}),
             ("caption_beam", {"image": [_b64(jpeg)], "beam_width": 1, "max_length": 0}),
             ("caption_beam", {"image": [_b64(jpeg)], "beam_width": 99, "max_length": 2}),
             ("caption_beam", {"image": [], "beam_width": 2, "max_length": 5})]
    signatures, (good, bad, width1, capped, empty) = call_signatures(root / "saved_models/toy_captions/1", calls)
    assert {"serving_default", "caption_beam"} <= set(signatures)
    assert list(good["error"]) == [""] * 5 and all(good["caption"]) and np.all(good["score"] <= 0)
    assert "red" in good["caption"][0] and "blue" in good["caption"][1]
    assert list(bad["caption"]) == [""] * 5 and list(bad["score"]) == [0.0] * 5
    assert list(bad["error"]) == ["not a JPEG, PNG or BMP image", "cannot decode the image",
                                  "image larger than 10000 pixels", "image larger than 10000 pixels",
                                  "not a JPEG, PNG or BMP image"]
    assert width1["caption"][0] and len(capped["caption"][0].split()) <= 2
    assert empty["caption"].shape == (0,) and empty["score"].shape == (0,)


def test_predict_reads_image_files(trained):
    root, _ = trained
    listing = root / "images.txt"
    listing.write_text(f"{root / 'images/im0.jpg'}\n{root / 'captions.tsv'}\n")
    done = subprocess.run([sys.executable, "-m", "seqkeras.cli", "predict", str(root / "saved_models/toy_captions/1"),
                           str(listing), "--read-files"], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert first["input"].endswith("im0.jpg") and first["caption"] and first["error"] == ""
    assert second["caption"] == "" and second["error"] == "not a JPEG, PNG or BMP image"


def test_spec_errors_name_the_key(tmp_path):
    path = tmp_path / "bad.toml"
    for old, new, key in (('cell = "gru"', 'cell = "tree"', "model.cell"),
                          ("[decoding]", "[decoding]\nwidth = 3", "decoding.width"),
                          ("beam_width = 2", "beam_width = 40", "decoding.beam_width"),
                          ("[model]", '[model]\nattention = "cosine"', "model.attention"),
                          ("[export]", "[export]\nmax_tokens = 5", "export.max_tokens"),
                          ("min_count = 1", 'min_count = 1\ntrain_splits = ["dev"]', "data.validation_split")):
        path.write_text(SPEC.replace(old, new, 1))
        with pytest.raises(SpecError, match=key.replace(".", r"\.")):
            load_spec(path)


def test_starter_spec_for_a_caption_table(tmp_path):
    app = registry.get("captioning")
    write_corpus(tmp_path, train=3, dev=1)
    files = [str(tmp_path / "splits.tsv"), str(tmp_path / "captions.tsv")]
    keys = app.starter(files)
    assert keys == {"data.splits": files[0], "data.captions": files[1], "data.images": str(tmp_path / "images")}
    path = tmp_path / "mine.toml"
    path.write_text(starter_toml(app, files, "mine"))
    assert load_spec(path).data.captions == files[1]
    with pytest.raises(ValueError, match="two files"):
        app.starter(files[:1])
    with pytest.raises(ValueError, match="header"):
        app.starter([files[0], str(tmp_path / "images/im0.jpg")])


FLICKR8K = pathlib.Path(__file__).resolve().parents[2] / "shared/data/flickr8k"


@pytest.mark.skipif(not FLICKR8K.is_dir(), reason="the Flickr8k folder (research use only) is not here")
def test_flickr8k_tables_read_and_match_the_documented_counts():
    captions, splits = read_captions(FLICKR8K / "captions.tsv"), read_splits(FLICKR8K / "splits.tsv")
    assert len(captions) == 7091 and all(len(c) == 5 for c in captions.values())
    counts = {name: list(splits.values()).count(name) for name in ("train", "dev", "none")}
    assert counts == {"train": 6000, "dev": 1000, "none": 91}
    spec = load_spec(pathlib.Path(__file__).resolve().parents[1] / "pipelines/flickr8k_captions.toml")
    assert spec.model.attention == "none" and 0 < spec.training.max_minutes <= 60
