"""Machine translation: encoder–decoder with attention and in-graph beam search.

The application (`TranslationApplication`, registered as ``"translation"``):

* `Spec` (`spec.py`): ``[data]`` parallel files and WordPiece vocabularies,
  ``[model]`` encoder/decoder/attention, ``[decoding]`` beam width, length penalty,
  length limit, ``[training]`` with label smoothing, ``[tuning]``, ``[export]``.
* `TranslationData` (`data.py`): subword tokenizers learned on the training split,
  teacher-forcing batches, the raw validation sentences.
* `Translator` (`model.py`), decoded greedily or with beam search (`decoding.py`).
* `TranslatorServer` (`server.py`): the export, signatures ``serving_default`` and
  ``translate``; `make_server` builds it from a spec, `translate` runs it on strings.

Example:
    >>> from seqkeras.pipeline import load_spec, runner
    >>> report = runner.run(load_spec("pipelines/multi30k_de_en.toml"))   # doctest: +SKIP
"""

from __future__ import annotations

from seqkeras.translation.application import TranslationApplication, make_server
from seqkeras.translation.data import TranslationData
from seqkeras.translation.model import Decoder, Translator
from seqkeras.translation.server import TranslatorServer, translate
from seqkeras.translation.spec import DataSpec, DecodingSpec, ModelSpec, Spec

__all__ = ["DataSpec", "Decoder", "DecodingSpec", "ModelSpec", "Spec", "TranslationApplication", "TranslationData",
           "Translator", "TranslatorServer", "make_server", "translate"]
