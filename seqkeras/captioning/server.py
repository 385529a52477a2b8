"""`CaptionerServer`: the captioning export (encoded image bytes in, captions out).

Signatures (image decoding, resizing, beam search and detokenization are all in the
graph; the SavedModel runs without seqkeras):

* ``serving_default``: ``image`` string[None] (encoded JPEG, PNG or BMP bytes) →
  ``caption`` string[None], ``score`` float32[None] (Σ log p of the caption, natural
  log, ``<eos>`` included), ``error`` string[None] ("" when the image was captioned);
  beam search with the spec's width and length;
* ``caption_beam``: the same plus ``beam_width`` int32[] and ``max_length`` int32[]
  (tokens, ``<eos>`` included; ≤ 0 = the defaults; clamped to
  ``serving.max_beam_width`` / ``serving.max_length_cap``).

Decoding never emits ``<unk>`` (nor ``<pad>``/``<bos>``): `WithoutSpecialTokens`.

Bad input (a defined result for that image, never an error for the batch):

* bytes that are not a JPEG, PNG or BMP image → caption "", score 0, error
  ``"not a JPEG, PNG or BMP image"``;
* an image whose header declares more than ``serving.max_image_pixels`` pixels →
  error ``"image larger than … pixels"`` (it is not decoded: no memory blow-up);
* a truncated or corrupt file of a known format → error ``"cannot decode the image"``
  (the decoding op's failure is dropped per image with tf.data's ``ignore_errors``);
* grayscale (converted to RGB), RGBA (alpha dropped), any size within the limit
  (resized to S × S like the training images) are captioned normally;
* an empty batch gives empty outputs.
"""

from __future__ import annotations

import struct

import numpy as np
import tensorflow as tf

from seqkeras.captioning.data import BOS_ID, EOS_ID, resize_image
from seqkeras.data.vocabulary import PAD_ID
from seqkeras.sampling import beam_decode, greedy_decode
from seqkeras.serving import Exporter, WarmupRequest

BEAM_SIGNATURE = "caption_beam"
OK, NOT_AN_IMAGE, TOO_LARGE, UNDECODABLE = 0, 1, 2, 3


def tiny_bmp(size: int = 4) -> bytes:
    """A `size`×`size` 24-bit BMP whose bytes are all < 0x80 (valid UTF-8, so it can travel
    in JSON warm-up requests and ``seqkeras predict`` lines)."""
    pixels = bytes((7 * i) % 120 for i in range(size * size * 3))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, size, size, 1, 24, 0, len(pixels), 0, 0, 0, 0)
    data = header + info + pixels
    assert max(data) < 0x80 and (size * 3) % 4 == 0
    return data


def _be32(data, offset, little=False):
    """The unsigned 32-bit integer at `offset` (big-endian, or little-endian and absolute)."""
    raw = tf.cast(tf.io.decode_raw(tf.strings.substr(data, offset, 4), tf.uint8), tf.int64)
    if little:
        raw = tf.reverse(raw, [0])
    value = raw[0] * 16777216 + raw[1] * 65536 + raw[2] * 256 + raw[3]
    if little:
        value = tf.where(value >= 2 ** 31, 2 ** 32 - value, value)   # a BMP height may be negative
    return value


def declared_pixels(data):
    """(format status, pixels the header declares) of one encoded image (no decoding)."""
    is_jpeg = tf.equal(tf.strings.substr(data, 0, 3), b"\xff\xd8\xff")
    is_png = tf.equal(tf.strings.substr(data, 0, 8), b"\x89PNG\r\n\x1a\n")
    is_bmp = tf.equal(tf.strings.substr(data, 0, 2), b"BM")
    jpeg = lambda: tf.reduce_prod(tf.cast(tf.io.extract_jpeg_shape(data)[:2], tf.int64))  # noqa: E731
    png = lambda: _be32(data, 16) * _be32(data, 20)  # noqa: E731
    bmp = lambda: _be32(data, 18, True) * _be32(data, 22, True)  # noqa: E731
    pixels = tf.cond(is_jpeg, jpeg, lambda: tf.cond(is_png, png, lambda: tf.cond(is_bmp, bmp,
                                                                                  lambda: tf.constant(0, tf.int64))))
    known = is_jpeg | is_png | is_bmp
    return tf.where(known, OK, NOT_AN_IMAGE), pixels


def decode_images(images, size: int, max_pixels: int):
    """string[B] → (uint8[B, size, size, 3], status int32[B]); rows that are not decoded are zeros."""
    count = tf.shape(images)[0]

    def one(index, data):
        status, pixels = declared_pixels(data)
        status = tf.where((status == OK) & (pixels > max_pixels), TOO_LARGE, status)
        image = tf.cond(status == OK,
                        lambda: resize_image(tf.io.decode_image(data, channels=3, expand_animations=False), size),
                        lambda: tf.zeros([size, size, 3], tf.uint8))
        return index, image, status

    decoded = (tf.data.Dataset.from_tensor_slices((tf.range(count), images)).map(one).ignore_errors()
               .batch(tf.cast(tf.maximum(count, 1), tf.int64)))
    empty = (tf.zeros([0], tf.int32), tf.zeros([0, size, size, 3], tf.uint8), tf.zeros([0], tf.int32))
    index, pixels, status = decoded.reduce(empty, lambda acc, x: tuple(tf.concat([a, b], 0) for a, b in zip(acc, x)))
    rows = index[:, None]
    out = tf.tensor_scatter_nd_update(tf.zeros([count, size, size, 3], tf.uint8), rows, pixels)
    return out, tf.tensor_scatter_nd_update(tf.fill([count], UNDECODABLE), rows, status)


class WithoutSpecialTokens:
    """A model's decoding step that never emits ``<pad>``, ``<unk>`` or ``<bos>``: their
    logits get −10⁹ (an ``<unk>`` can match no reference word, so it is never the
    better guess)."""

    def __init__(self, model, banned_ids, vocabulary_size):
        self.model = model
        self.penalty = tf.constant(np.isin(np.arange(vocabulary_size), banned_ids) * -1e9, tf.float32)

    def step(self, token_ids, states, context):
        logits, states = self.model.step(token_ids, states, context)
        return logits + self.penalty, states


class CaptionerServer(Exporter):
    """Serving module around a trained `Captioner` and its caption tokenizer.

    Args:
        model: the `seqkeras.captioning.model.Captioner`.
        tokenizer: the `WordTokenizer` with the model's vocabulary.
        beam_width, length_penalty, max_length: decoding defaults.
        max_beam_width, max_length_cap, max_image_pixels: serving limits.
    """

    def __init__(self, model, tokenizer, beam_width=3, length_penalty=0.0, max_length=25, max_beam_width=16,
                 max_length_cap=64, max_image_pixels=4096 * 4096, name="captioner_server"):
        super().__init__(name=name)
        rows = model.captioner_config["vocabulary_size"]
        if tokenizer.vocabulary is None or len(tokenizer.vocabulary) != rows:
            raise ValueError(f"The tokenizer's vocabulary ({None if tokenizer.vocabulary is None else len(tokenizer.vocabulary)} "
                             f"tokens) does not match the model's embedding ({rows} rows)")
        self.model, self.tokenizer = model, tokenizer
        vocabulary = tokenizer.vocabulary
        self.decoding = WithoutSpecialTokens(model, [vocabulary.pad_id, vocabulary.unk_id, BOS_ID], rows)
        self.size = int(model.image_size)
        self.beam_width, self.length_penalty = int(beam_width), float(length_penalty)
        self.max_length, self.max_length_cap = int(max_length), int(max_length_cap)
        self.max_beam_width = int(min(max_beam_width, rows))
        self.max_image_pixels = int(max_image_pixels)
        self.errors = tf.constant(["", "not a JPEG, PNG or BMP image",
                                   f"image larger than {self.max_image_pixels} pixels", "cannot decode the image"])
        image = tf.TensorSpec([None], tf.string, name="image")
        self.caption_beam = tf.function(self._caption, input_signature=[
            image, tf.TensorSpec([], tf.int32, name="beam_width"), tf.TensorSpec([], tf.int32, name="max_length")])
        self.caption_default = tf.function(lambda image: self._caption(image, tf.constant(0), tf.constant(0)),
                                           input_signature=[image])

    def _caption(self, image, beam_width, max_length):
        pixels, status = decode_images(image, self.size, self.max_image_pixels)
        width = tf.clip_by_value(tf.where(beam_width <= 0, self.beam_width, beam_width), 1, self.max_beam_width)
        length = tf.clip_by_value(tf.where(max_length <= 0, self.max_length, max_length), 1, self.max_length_cap)
        limits = tf.where(status == OK, length, 0)
        # One blank image more: a convolution over an empty batch is not defined on every backend.
        count = tf.shape(pixels)[0]
        captions, scores = self.beam(tf.concat([pixels, tf.zeros([1, self.size, self.size, 3], tf.uint8)], 0),
                                     width, tf.concat([limits, [0]], 0))
        captions, scores = captions[:count], scores[:count]
        ok = tf.equal(status, OK)
        return {"caption": tf.where(ok, captions, ""), "score": tf.where(ok, scores, 0.0),
                "error": tf.gather(self.errors, status)}

    def beam(self, pixels, width, limits):
        """Decoded uint8 images [B, S, S, 3] → (captions string[B], scores float32[B])."""
        context, states = self.model.encode(pixels)
        tokens, _, scores = beam_decode(self.decoding, context, states, limits, width, self.length_penalty,
                                        BOS_ID, EOS_ID, PAD_ID)
        return self.tokenizer.detokenize(tokens), scores

    def greedy(self, pixels):
        """Decoded uint8 images → greedy captions string[B] (evaluation; not a signature)."""
        context, states = self.model.encode(pixels)
        limits = tf.fill([tf.shape(pixels)[0]], self.max_length)
        tokens, _ = greedy_decode(self.decoding, context, states, limits, BOS_ID, EOS_ID, PAD_ID)
        return self.tokenizer.detokenize(tokens)

    def signatures(self):
        """``serving_default`` (image) and ``caption_beam`` (image, beam_width, max_length)."""
        return {"serving_default": self.caption_default.get_concrete_function(),
                BEAM_SIGNATURE: self.caption_beam.get_concrete_function()}

    def warmup_requests(self):
        """A tiny BMP and bytes that are no image to ``serving_default``; the BMP at width 2 to
        ``caption_beam`` (a BMP whose bytes are valid UTF-8 travels in JSON-based tools)."""
        bmp = tiny_bmp()
        return [WarmupRequest("serving_default", {"image": np.array([bmp, b"not an image"], dtype=object)}),
                WarmupRequest(BEAM_SIGNATURE, {"image": np.array([bmp], dtype=object),
                                               "beam_width": np.int32(2), "max_length": np.int32(8)})]

    def check_outputs(self, outputs):
        """The BMP is captioned (no error, finite score); the non-image gets "" and an error."""
        default = outputs["serving_default"]
        if default["error"][0] not in (b"", "") or default["caption"][1] not in (b"", ""):
            raise RuntimeError(f"the export's warm-up outputs are wrong: {default}")
        if default["error"][1] in (b"", ""):
            raise RuntimeError("the export captions bytes that are not an image without an error")
        for name, result in outputs.items():
            if not np.all(np.isfinite(result["score"])):
                raise RuntimeError(f"the export's {name} signature returns scores {result['score']}")


def caption_images(server: CaptionerServer, pixels: tf.data.Dataset, beam_width: int) -> list[str]:
    """Captions of decoded image batches (uint8 [B, S, S, 3]) with a server's graph.

    Args:
        beam_width: 0 = greedy, else beam search of that width (the server's length).
    """
    def beam(batch):
        return server.beam(batch, tf.constant(beam_width), tf.fill([tf.shape(batch)[0]], server.max_length))[0]

    spec = [tf.TensorSpec([None, server.size, server.size, 3], tf.uint8)]
    fn = tf.function(server.greedy if beam_width == 0 else beam, input_signature=spec)  # one trace for every batch
    return [c.decode("utf-8") for batch in pixels for c in fn(batch).numpy()]
