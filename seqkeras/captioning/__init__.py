"""Image captioning: a CNN encoder, the shared attentional decoder, in-graph beam search.

The application (`CaptioningApplication`, registered as ``"captioning"``):

* `Spec` (`spec.py`): ``[data]`` image folder, caption and split tables,
  ``[model]`` encoder and decoder, ``[decoding]``, ``[serving]`` limits,
  ``[evaluation]`` baselines and examples, ``[training]`` with label smoothing.
* `CaptionData` (`data.py`): tf.data image decoding and augmentation, a word
  vocabulary learned on the training captions, images with K captions per batch.
* `Captioner` (`model.py`), decoded greedily or with beam search by
  `seqkeras.sampling` (the decoder and the decoding are shared with translation).
* `evaluation.py`: BLEU-1..4 against all references, the constant-caption and
  nearest-neighbour baselines, the examples page.
* `CaptionerServer` (`server.py`): the export, signatures ``serving_default`` and
  ``caption_beam``; image bytes in, captions out.

Example:
    >>> from seqkeras.pipeline import load_spec, runner
    >>> report = runner.run(load_spec("pipelines/flickr8k_captions.toml"))   # doctest: +SKIP
"""

from __future__ import annotations

from seqkeras.captioning.application import CaptioningApplication, make_server
from seqkeras.captioning.data import CaptionData, read_captions, read_splits
from seqkeras.captioning.model import Captioner, build_image_encoder
from seqkeras.captioning.server import CaptionerServer
from seqkeras.captioning.spec import Spec

__all__ = ["CaptionData", "Captioner", "CaptionerServer", "CaptioningApplication", "Spec", "build_image_encoder",
           "make_server", "read_captions", "read_splits"]
