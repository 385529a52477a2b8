"""Captioning data: an image folder and a caption table → word vocabulary → tf.data batches.

Files (`DataSpec`; the Flickr8k layout):

* ``captions``: UTF-8 TSV, header ``image_id<TAB>caption``, one row per caption,
  several rows per image;
* ``splits``: UTF-8 TSV, header ``image_id<TAB>split``;
* ``images``: a folder holding ``<image_id>.jpg`` (any format `tf.io.decode_image`
  reads).

A malformed row (wrong number of fields, empty id or caption, an image listed in two
splits) is a `DataError` naming the file and line; an image of a used split without
captions or without its file is a `DataError` too.

Captions are split into words by the project's `WordTokenizer` (lower-cased by
default, punctuation kept as its own word as in the corpus); the vocabulary is
counted on the training captions only (words seen ≥ ``min_count`` times), with
``<pad>`` = 0, ``<unk>`` = 1, ``<bos>`` = 2, ``<eos>`` = 3.

One training example is an image with K = ``captions_per_image`` of its captions
(an image with fewer repeats them in turn), so a batch of B images feeds B·K
captions while the encoder runs once per image::

    ((images uint8[B, S, S, 3], caption_in int64[B·K, T]), caption_out int64[B·K, T])

Images are decoded by ``tf.io.decode_image`` inside the pipeline, resized to S × S,
cached decoded (uint8) after the first epoch; training images are then augmented
(edge padding + random crop, random horizontal flip).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import tensorflow as tf

from seqkeras.data import DataError, Vocabulary, WordTokenizer, load_or_fit, resolve_path
from seqkeras.data.validation import iter_lines, scan_text_file
from seqkeras.data.vocabulary import BOS, EOS, PAD, UNK
from seqkeras.pipeline.data import Data
from seqkeras.pipeline.run_paths import VOCABULARY_FILE

RESERVED = (PAD, UNK, BOS, EOS)
BOS_ID, EOS_ID = 2, 3
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


@dataclasses.dataclass(kw_only=True)
class CaptionData(Data):
    """`Data` plus the tokenizer, the image lists and the raw captions.

    Attributes:
        tokenizer: the caption `WordTokenizer` (its vocabulary is the model's).
        vocabulary_size: entries, reserved included.
        image_size: S.
        train_images, validation_images: image file paths.
        train_captions, validation_captions: the raw captions of each image.
        hypotheses: the last `evaluate`'s captions of the validation images,
            ``{"greedy": [...], "beam": [...], <baseline>: [...]}``.
        run_dir: where evaluation writes its files (None = nowhere).
    """

    tokenizer: WordTokenizer
    vocabulary_size: int
    image_size: int
    train_images: list[str]
    validation_images: list[str]
    train_captions: list[list[str]]
    validation_captions: list[list[str]]
    hypotheses: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    run_dir: pathlib.Path | None = None

    def summary(self):
        return {"vocabulary_size": self.vocabulary_size, "image_size": self.image_size,
                "train_images": len(self.train_images), "validation_images": len(self.validation_images),
                "train_captions": sum(len(c) for c in self.train_captions)}


# -- reading the tables ----------------------------------------------------------------
def _rows(path: pathlib.Path, header: tuple[str, str]):
    """``(line, first, second)`` of a two-column TSV; the header line is checked and skipped."""
    scan_text_file(path)
    for number, text in iter_lines(path):
        if not text.strip():
            continue
        fields = text.split("\t")
        if number == 1 and tuple(f.strip() for f in fields) == header:
            continue
        if len(fields) != 2:
            raise DataError(path, number, f"expected 2 tab-separated fields ({header[0]}, {header[1]}), "
                                          f"found {len(fields)}")
        first, second = fields[0].strip(), fields[1].strip()
        if not first or not second:
            raise DataError(path, number, f"empty {header[0] if not first else header[1]}")
        yield number, first, second


def read_captions(path) -> dict[str, list[str]]:
    """``{image_id: [caption, ...]}`` in file order from a ``image_id<TAB>caption`` file.

    Raises:
        DataError: missing or empty file, a row without exactly two fields, an empty
            id or caption (file and line named).
    """
    captions: dict[str, list[str]] = {}
    for _, image, caption in _rows(pathlib.Path(path), ("image_id", "caption")):
        captions.setdefault(image, []).append(caption)
    return captions


def read_splits(path) -> dict[str, str]:
    """``{image_id: split}`` from a ``image_id<TAB>split`` file.

    Raises:
        DataError: as `read_captions`, and an image listed twice with different splits.
    """
    splits: dict[str, str] = {}
    path = pathlib.Path(path)
    for number, image, split in _rows(path, ("image_id", "split")):
        if splits.setdefault(image, split) != split:
            raise DataError(path, number, f"image {image!r} is in split {splits[image]!r} already, "
                                          f"listed again as {split!r}")
    return splits


def image_path(folder: pathlib.Path, image_id: str, suffix: str) -> pathlib.Path:
    """``folder/<image_id>`` when the id has an image suffix, else ``folder/<image_id><suffix>``."""
    name = image_id if image_id.lower().endswith(IMAGE_SUFFIXES) else image_id + suffix
    return folder / name


def split_examples(captions, splits, names, folder, suffix, captions_file, splits_file):
    """(image paths, caption lists) of the images whose split is in `names`, in splits-file order."""
    paths, texts = [], []
    for image, split in splits.items():
        if split not in names:
            continue
        if image not in captions:
            raise DataError(captions_file, None, f"image {image!r} (split {split!r} in {splits_file}) has no caption")
        path = image_path(folder, image, suffix)
        if not path.is_file():
            raise DataError(path, None, f"missing image file for image {image!r} (split {split!r})")
        paths.append(str(path))
        texts.append(captions[image])
    if not paths:
        raise DataError(splits_file, None, f"no image in split(s) {sorted(names)}; splits found: "
                                           f"{sorted(set(splits.values()))}")
    return paths, texts


# -- images ----------------------------------------------------------------------------
def resize_image(image, size: int):
    """uint8 [H, W, 3] → uint8 [size, size, 3] (bilinear with antialiasing; as is when it fits)."""
    shape = tf.shape(image)
    same = tf.logical_and(tf.equal(shape[0], size), tf.equal(shape[1], size))
    resized = lambda: tf.cast(tf.clip_by_value(tf.round(  # noqa: E731
        tf.image.resize(image, [size, size], antialias=True)), 0, 255), tf.uint8)
    return tf.ensure_shape(tf.cond(same, lambda: image, resized), [size, size, 3])


def load_image(path, size: int):
    """An image file → uint8 [size, size, 3] (grayscale → RGB, alpha dropped, first frame)."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    return resize_image(image, size)


def image_batches(paths: list[str], size: int, batch_size: int) -> tf.data.Dataset:
    """uint8 [B, size, size, 3] batches of the images at `paths`, in order (no augmentation)."""
    return (tf.data.Dataset.from_tensor_slices(tf.constant(paths, tf.string))
            .map(lambda p: load_image(p, size), num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch_size).prefetch(tf.data.AUTOTUNE))


def augment(image, padding: int, flip: bool, seed: int | None = None):
    """Random crop of the edge-padded image (same size) and a random horizontal flip."""
    size = image.shape[0]
    if padding:
        padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]], mode="SYMMETRIC")
        image = tf.image.random_crop(padded, [size, size, 3], seed=seed)
    if flip:
        image = tf.image.random_flip_left_right(image, seed=seed)
    return image


# -- captions --------------------------------------------------------------------------
def fixed_captions(texts: list[list[str]], k: int) -> np.ndarray:
    """object [N, K]: each image's first K captions, repeated in turn when it has fewer."""
    return np.array([[caps[i % len(caps)] for i in range(k)] for caps in texts], dtype=object)


def teacher_forcing(tokenizer: WordTokenizer, captions, max_length: int):
    """string[B, K] → (caption_in int64[B·K, T], caption_out int64[B·K, T]): ``<bos>`` + words
    (first `max_length`) and words + ``<eos>``, 0-padded."""
    words = tokenizer(tf.reshape(captions, [-1]))[:, :max_length]
    rows = words.nrows()
    bos = tf.fill([rows, 1], tf.constant(BOS_ID, tf.int64))
    eos = tf.fill([rows, 1], tf.constant(EOS_ID, tf.int64))
    caption_in = tf.concat([bos, words], axis=1).to_tensor(0)
    caption_out = tf.concat([words, eos], axis=1).to_tensor(0)
    return caption_in, caption_out


def caption_batches(paths, captions: np.ndarray, tokenizer, spec, training: bool) -> tf.data.Dataset:
    """The ``((images, caption_in), caption_out)`` batches of the module doc."""
    d, t = spec.data, spec.training
    images = (tf.data.Dataset.from_tensor_slices(tf.constant(paths, tf.string))
              .map(lambda p: load_image(p, d.image_size), num_parallel_calls=tf.data.AUTOTUNE))
    ds = tf.data.Dataset.zip(images, tf.data.Dataset.from_tensor_slices(tf.constant(captions.tolist(), tf.string)))
    ds = ds.cache()
    if training:
        ds = ds.shuffle(len(paths), seed=t.seed, reshuffle_each_iteration=True)
        if d.augment:
            ds = ds.map(lambda image, caps: (augment(image, d.crop_padding, d.flip), caps),
                        num_parallel_calls=tf.data.AUTOTUNE)

    def to_model(images, caps):
        caption_in, caption_out = teacher_forcing(tokenizer, caps, d.max_length)
        return (images, caption_in), caption_out

    return ds.batch(t.batch_size).map(to_model, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def make_tokenizer(spec, vocabulary: Vocabulary | None = None) -> WordTokenizer:
    return WordTokenizer(vocabulary, lowercase=spec.data.lowercase)


def build_data(spec, data_dir=None, run_dir: pathlib.Path | None = None) -> CaptionData:
    """Read the tables, learn (or load) the vocabulary, build the batches.

    Args:
        spec: a `seqkeras.captioning.Spec`.
        data_dir: the data directory (``--data-dir``).
        run_dir: the run directory: ``vocabulary.txt`` is loaded from there when
            present, else learned on the training captions and saved there.

    Raises:
        DataError: see the module doc.
    """
    d = spec.data
    captions_file, splits_file = resolve_path(d.captions, data_dir), resolve_path(d.splits, data_dir)
    folder = resolve_path(d.images, data_dir)
    if not folder.is_dir():
        raise DataError(folder, None, "no such image folder")
    captions, splits = read_captions(captions_file), read_splits(splits_file)
    train_paths, train_texts = split_examples(captions, splits, set(d.train_splits), folder, d.image_suffix,
                                              captions_file, splits_file)
    val_paths, val_texts = split_examples(captions, splits, {d.validation_split}, folder, d.image_suffix,
                                          captions_file, splits_file)

    def fit() -> Vocabulary:
        texts = tf.data.Dataset.from_tensor_slices([c for caps in train_texts for c in caps])
        return make_tokenizer(spec).adapt(texts, min_count=d.min_count, reserved=RESERVED)

    vocabulary = load_or_fit(None if run_dir is None else pathlib.Path(run_dir) / VOCABULARY_FILE, fit)
    tokenizer = make_tokenizer(spec, vocabulary)
    k = d.captions_per_image
    train = caption_batches(train_paths, fixed_captions(train_texts, k), tokenizer, spec, training=True)
    if spec.training.steps_per_epoch:
        train = train.repeat()
    validation = caption_batches(val_paths, fixed_captions(val_texts, k), tokenizer, spec, training=False)
    return CaptionData(train=train, validation=validation, tokenizer=tokenizer, vocabulary_size=len(vocabulary),
                       image_size=d.image_size, train_images=train_paths, validation_images=val_paths,
                       train_captions=train_texts, validation_captions=val_texts,
                       run_dir=None if run_dir is None else pathlib.Path(run_dir))
