"""Captioning data: table readers name file and line on bad rows; batches hold each image once
with its K captions; the vocabulary comes from the training captions only."""

import numpy as np
import pytest
import tensorflow as tf

from seqkeras.captioning.data import (BOS_ID, EOS_ID, augment, build_data, fixed_captions, read_captions,
                                      read_splits)
from seqkeras.data import DataError
from seqkeras.pipeline.spec import with_overrides
from seqkeras.captioning.spec import Spec


def _corpus(root, sizes=((20, 20), (30, 24))):
    (root / "images").mkdir()
    captions, splits = ["image_id\tcaption"], ["image_id\tsplit"]
    rng = np.random.default_rng(0)
    for i in range(6):
        h, w = sizes[i % 2]
        pixels = rng.integers(0, 256, (h, w, 1 if i == 5 else 3)).astype(np.uint8)   # one grayscale PNG
        data = tf.io.encode_png(pixels) if i == 5 else tf.io.encode_jpeg(pixels)
        name = f"im{i}.png" if i == 5 else f"im{i}"
        (root / "images" / (name if i == 5 else name + ".jpg")).write_bytes(data.numpy())
        texts = [f"A {'dog' if i % 2 else 'cat'} sits ."] + ([f"the only word{i} here"] if i != 2 else [])
        captions += [f"{name}\t{t}" for t in texts]
        splits.append(f"{name}\t{'dev' if i >= 4 else 'train'}")
    (root / "captions.tsv").write_text("\n".join(captions) + "\n")
    (root / "splits.tsv").write_text("\n".join(splits) + "\n")


def _spec(**overrides):
    base = {"data.images": "images", "data.captions": "captions.tsv", "data.splits": "splits.tsv",
            "data.image_size": 16, "data.captions_per_image": 2, "data.min_count": 2, "training.batch_size": 3}
    return with_overrides(Spec(), {**base, **overrides})


@pytest.mark.parametrize("text,reason", [
    ("im0\ta cat\textra\n", "expected 2 tab-separated fields"),
    ("im0\n", "expected 2 tab-separated fields"),
    ("im0\t  \n", "empty caption"),
    ("\ta cat\n", "empty image_id"),
])
def test_malformed_caption_rows_name_file_and_line(tmp_path, text, reason):
    path = tmp_path / "captions.tsv"
    path.write_text("image_id\tcaption\nim1\tfine .\n" + text)
    with pytest.raises(DataError, match=reason) as error:
        read_captions(path)
    assert error.value.path == str(path) and error.value.line == 3


def test_split_table_errors(tmp_path):
    path = tmp_path / "splits.tsv"
    path.write_text("image_id\tsplit\nim1\ttrain\nim1\tdev\n")
    with pytest.raises(DataError, match="listed again") as error:
        read_splits(path)
    assert error.value.line == 3
    path.write_text("")
    with pytest.raises(DataError, match="empty"):
        read_splits(path)


def test_missing_image_and_caption_are_data_errors(tmp_path):
    _corpus(tmp_path)
    (tmp_path / "images/im1.jpg").unlink()
    with pytest.raises(DataError, match="missing image file.*im1"):
        build_data(_spec(), tmp_path)
    (tmp_path / "images/im1.jpg").write_bytes(b"")
    with open(tmp_path / "splits.tsv", "a") as out:
        out.write("im9\ttrain\n")
    with pytest.raises(DataError, match="im9.*no caption"):
        build_data(_spec(), tmp_path)


def test_batches_hold_each_image_once_with_k_captions(tmp_path):
    _corpus(tmp_path)
    data = build_data(_spec(), tmp_path, tmp_path / "run")
    assert (tmp_path / "run/vocabulary.txt").is_file()
    # training words seen ≥ 2 times (train = im0..im3): a, sits, ., cat, dog — word0.. once each
    assert data.tokenizer.vocabulary.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert "cat" in data.tokenizer.vocabulary and "word0" not in data.tokenizer.vocabulary
    assert len(data.train_images) == 4 and data.validation_images[1].endswith("im5.png")
    (images, caption_in), caption_out = next(iter(data.train))
    assert images.shape == (3, 16, 16, 3) and images.dtype == tf.uint8
    assert caption_in.shape[0] == caption_out.shape[0] == 6                       # 3 images × K = 2
    assert np.all(caption_in[:, 0] == BOS_ID)
    ends = np.argmax(caption_out.numpy() == EOS_ID, axis=1)
    assert np.all(caption_out.numpy()[np.arange(6), ends] == EOS_ID)              # every caption ends
    np.testing.assert_array_equal(caption_in[:, 1:], np.where(caption_out[:, :-1] == EOS_ID, 0, caption_out[:, :-1]))
    (val_images, val_in), _ = next(iter(data.validation))
    assert val_images.shape == (2, 16, 16, 3) and val_in.shape[0] == 4            # grayscale PNG → RGB
    assert data.summary()["train_images"] == 4


def test_k_captions_repeat_in_turn_and_augmentation_keeps_the_image_shape():
    np.testing.assert_array_equal(fixed_captions([["a", "b"], ["c"], ["d", "e", "f"]], 2),
                                  [["a", "b"], ["c", "c"], ["d", "e"]])
    image = tf.constant(np.arange(16 * 16 * 3).reshape(16, 16, 3) % 255, tf.uint8)
    out = augment(image, 4, True, seed=1)
    assert out.shape == (16, 16, 3) and out.dtype == tf.uint8
    np.testing.assert_array_equal(augment(image, 0, False), image)
