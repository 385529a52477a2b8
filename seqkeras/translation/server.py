"""The translation serving module: a `TranslatorServer` exported for TF Serving.

`TranslatorServer(model, source_tokenizer, target_tokenizer).export("saved_models",
"multi30k_de_en")` (`seqkeras.serving.Exporter.export`) writes
``saved_models/multi30k_de_en/<version>/`` atomically, with warm-up records.
Sanitising, tokenization, encoding, beam search and detokenization all run in the
graph, so the SavedModel loads with `tf.saved_model.load` where seqkeras is not
installed.

Signatures:

``serving_default``
    source string[None] → translation string[None], score float32[None]: beam
    search with the spec's width, length penalty and relative length limit.
``translate``
    source string[None], beam_width int32[], max_length int32[] → the same outputs.
    beam_width ≤ 0 means the default width; it is clamped to [1, min(V, cap)].
    max_length ≤ 0 means the default limit a · |source| + b; it is capped.

``score`` is the chosen hypothesis's Σ natural-log probability (``<eos>``
included), not divided by the length penalty.

Bad input (defined results, never an error):

* invalid UTF-8 bytes are replaced by U+FFFD before tokenization (such a word
  becomes ``<unk>`` unless its other pieces are known);
* an empty or whitespace-only source translates to "" with score 0;
* a source longer than `max_source_tokens` subwords (``export.max_tokens``) keeps its
  first `max_source_tokens` subwords (the rest is ignored);
* an empty batch gives empty outputs.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seqkeras.serving import Exporter, WarmupRequest, frequent_words
from seqkeras.translation import decoding
from seqkeras.translation.spec import DEFAULT_MAX_SOURCE_TOKENS

TRANSLATE_SIGNATURE = "translate"
SENTINEL = "\u0001\u0001"


class TranslatorServer(Exporter):
    """Serving module around a built `Translator` and its two tokenizers.

    Args:
        model: the `seqkeras.translation.model.Translator`.
        source_tokenizer, target_tokenizer: `seqkeras.data` tokenizers with the
            vocabularies the model was trained with.
        beam_width: default width; length_penalty: α; max_length_a, max_length_b,
        max_length_cap: the length limit (see `seqkeras.translation.decoding`).
        max_beam_width: the widest beam a request may ask for.
        max_source_tokens: longer sources are truncated to this many subwords.
        warmup_source: text of the warm-up requests (default: the most frequent
            whole source word).
    """

    def __init__(self, model, source_tokenizer, target_tokenizer, beam_width=5, length_penalty=0.6,
                 max_length_a=1.5, max_length_b=10, max_length_cap=200, max_beam_width=16,
                 max_source_tokens=DEFAULT_MAX_SOURCE_TOKENS, warmup_source=None, name="translator_server"):
        super().__init__(name=name)
        sizes = model.translator_config
        for tok, rows, side in ((source_tokenizer, sizes["source_vocabulary_size"], "source"),
                                (target_tokenizer, sizes["target_vocabulary_size"], "target")):
            if tok.vocabulary is None or len(tok.vocabulary) != rows:
                raise ValueError(f"The {side} tokenizer's vocabulary ({None if tok.vocabulary is None else len(tok.vocabulary)} "
                                 f"tokens) does not match the model's {side} embedding ({rows} rows)")
        self.model = model
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.beam_width = int(beam_width)
        self.length_penalty = float(length_penalty)
        self.max_length_a, self.max_length_b = float(max_length_a), int(max_length_b)
        self.max_length_cap = int(max_length_cap)
        self.max_beam_width = int(min(max_beam_width, len(target_tokenizer.vocabulary)))
        self.max_source_tokens = int(max_source_tokens)
        self.warmup_source = warmup_source or frequent_words(
            source_tokenizer.vocabulary, keep=lambda token: bool(token.strip()) and not token.startswith("##"))[0]
        self.end_id = target_tokenizer.vocabulary.eos_id
        self.translate = tf.function(self._translate, input_signature=[
            tf.TensorSpec([None], tf.string, name="source"),
            tf.TensorSpec([], tf.int32, name="beam_width"),
            tf.TensorSpec([], tf.int32, name="max_length"),
        ])
        self.translate_default = tf.function(
            lambda source: self._translate(source, tf.constant(0), tf.constant(0)),
            input_signature=[tf.TensorSpec([None], tf.string, name="source")])

    def source_ids(self, source):
        """string[B] → int32[B, S ≥ 1] subword ids (sanitised, truncated, 0-padded)."""
        clean = tf.strings.unicode_transcode(source, "UTF-8", "UTF-8", errors="replace",
                                             replacement_char=0xFFFD)
        # A sentinel word that is never a whole vocabulary entry keeps the subword
        # splitter's loop from running zero times (it cannot stack an empty list when
        # every word of a batch is a whole-word piece).
        ids = self.source_tokenizer(tf.concat([clean, [SENTINEL]], 0))[:-1, :self.max_source_tokens]
        dense = tf.cast(ids.to_tensor(default_value=0), tf.int32)
        return tf.pad(dense, [[0, 0], [0, 1]])  # ≥ 1 column even for empty sources; masked

    def limits(self, ids, max_length):
        return decoding.length_limits(ids, max_length, self.max_length_a, self.max_length_b,
                                      self.max_length_cap)

    def _translate(self, source, beam_width, max_length):
        ids = self.source_ids(source)
        width = tf.where(beam_width <= 0, self.beam_width, beam_width)
        width = tf.clip_by_value(width, 1, self.max_beam_width)
        empty = tf.reduce_all(tf.equal(ids, 0), axis=1)
        limits = tf.where(empty, 0, self.limits(ids, max_length))
        tokens, _, scores = decoding.beam_search(self.model, ids, limits, width, self.length_penalty,
                                                 self.end_id)
        text = self.detokenize(tokens)
        return {"translation": tf.where(empty, "", text), "score": tf.where(empty, 0.0, scores)}

    def greedy(self, source, max_length=0):
        """Greedy translations string[B] (evaluation; not a signature: use beam_width 1)."""
        ids = self.source_ids(tf.convert_to_tensor(source))
        tokens, _ = decoding.greedy(self.model, ids, self.limits(ids, max_length), self.end_id)
        return self.detokenize(tokens)

    def detokenize(self, tokens):
        """Target ids → text; a continuation piece at the very start loses its ``##``."""
        return tf.strings.regex_replace(self.target_tokenizer.detokenize(tokens), "^##", "")

    def signatures(self):
        """``serving_default`` (source) and ``translate`` (source, beam_width, max_length)."""
        return {"serving_default": self.translate_default.get_concrete_function(),
                TRANSLATE_SIGNATURE: self.translate.get_concrete_function()}

    def warmup_requests(self):
        """A word and an empty source to ``serving_default``; a width-2 request to ``translate``."""
        return [WarmupRequest("serving_default", {"source": [self.warmup_source, ""]}),
                WarmupRequest(TRANSLATE_SIGNATURE, {"source": [self.warmup_source], "beam_width": np.int32(2),
                                                    "max_length": np.int32(8)})]

    def check_outputs(self, outputs):
        """The empty warm-up source must translate to "" with score 0; scores finite."""
        default = outputs["serving_default"]
        if default["translation"][1] not in (b"", "") or default["score"][1] != 0.0:
            raise RuntimeError(f"the export translates an empty source to {default['translation'][1]!r} "
                               f"(score {default['score'][1]}), expected '' (score 0)")
        for name, result in outputs.items():
            if not np.all(np.isfinite(result["score"])):
                raise RuntimeError(f"the export's {name} signature returns scores {result['score']}")


def translate(server: TranslatorServer, sources: list[str], beam_width: int, batch_size: int = 128) -> list[str]:
    """Translate Python strings in batches with a server's graph (not an export).

    Args:
        server: a `TranslatorServer`.
        sources: raw source sentences.
        beam_width: 0 = greedy (`GreedySampler`), else the beam width.
        batch_size: sources per decoding call.

    Returns:
        One translation per source.
    """
    if beam_width == 0:
        decode = server.greedy
    else:
        decode = lambda s: server.translate(s, tf.constant(beam_width), tf.constant(0))["translation"]  # noqa: E731
    fn = tf.function(decode, input_signature=[tf.TensorSpec([None], tf.string)])  # one trace for every batch size
    out = []
    for start in range(0, len(sources), batch_size):
        batch = tf.constant(sources[start:start + batch_size])
        out += [t.decode("utf-8") for t in fn(batch).numpy()]
    return out
