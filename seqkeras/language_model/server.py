"""The language model's serving module: a TF Serving SavedModel with in-graph text.

`LanguageModelServer(model, tokenizer).export("saved_models", "ptb_lm")` writes
``saved_models/ptb_lm/<version>/`` (atomically, with warm-up requests, validated by
`seqkeras.serving.Exporter`): tokenization, decoding and scoring all run inside the
graph, so the SavedModel loads with `tf.saved_model.load` where seqkeras is not
installed.

The model is a `seqkeras.language_model.LanguageModel`; the server drives its
stateless interface (`LanguageModel.step`, `LanguageModel.run_sequence`,
`LanguageModel.output_logits`), so weights are shared with the trained model, never
copied, and a stateful training model serves any batch size. Dropout is off.

Signatures:

``generate`` (= ``serving_default``)
    prompt string[None], max_new_tokens int32[], temperature float32[], top_k int32[],
    top_p float32[], seed int32[] → text string[None].
    temperature ≤ 0 (or NaN) is greedy; otherwise seeded sampling from
    softmax(logits / temperature) after top-k (k ≤ 0: off) and top-p (p ≥ 1: off).
``generate_beam``
    prompt string[None], max_new_tokens int32[], beam_width int32[] → text
    string[None], score float32[None] (Σ natural-log probabilities of the generated
    tokens, ``<eos>`` included; no length normalisation).
``score``
    text string[None] → log_prob float32[None], num_tokens int32[None], perplexity
    float32[None].

Decisions (the contract a client relies on):

* Output ``text`` is the generated continuation only, detokenized by the tokenizer
  itself (``<eos>``/``<pad>``/``<bos>`` dropped). Character LMs join with no
  separator, so ``prompt + text`` reads naturally; word LMs join with spaces, so
  ``prompt + " " + text``.
* Prompt encoding: the prompt is tokenized as `score` does (below), a trailing
  ``<eos>`` added by the tokenizer is dropped, only the last `max_prompt_tokens`
  tokens are kept, and a start token is prepended: ``<bos>`` when the vocabulary has
  one (unless the tokenizer already adds it), else ``<eos>`` when it has one (in a
  Mikolov stream a sentence follows an ``<eos>``), else nothing. The prompt is run
  from the zero state; generation continues from the state after it.
* Invalid UTF-8 in a prompt or text is replaced by U+FFFD (an unknown token), not
  an error.
* Empty prompt: with a start token, generation starts from it; without one, from the
  zero state with logits = output_logits(0) (the output layer's learnt bias).
* Generation stops at ``<eos>`` when the vocabulary has one (the ``<eos>`` is not in
  ``text``), else after `max_new_tokens`. `max_new_tokens` is clamped to
  [0, max_new_tokens_cap] (default cap 1024); 0 gives "".
* `beam_width` ≤ 0 means `beam_width_default`; it is clamped to [1, min(V,
  beam_width_cap)] (default cap 16).
* Score: each text is one stream, tokenized exactly as the training pipeline
  (`seqkeras.data.token_stream`) tokenizes lines: for a word tokenizer that appends
  ``<eos>`` (PTB: newline = ``<eos>``), the text is split on newlines (one trailing
  newline ignored) and each line gets its ``<eos>``; otherwise the tokenizer sees the
  whole text (a character vocabulary has its own newline token). The stream is run
  from the zero state and every token after the first is predicted:
  ``log_prob = Σ_{t≥1} log p(x_t | x_<t)`` (natural log), ``num_tokens = n − 1``,
  ``perplexity = exp(−log_prob / num_tokens)``. A text with fewer than two tokens
  (the empty text) gives log_prob 0, num_tokens 0 and perplexity NaN (undefined;
  aggregate corpora by summing log_prob and num_tokens). The text is processed in
  chunks of `score_chunk_length` tokens with the state carried by a `tf.while_loop`:
  memory is O(B · chunk · V), never O(T · V), so 100,000-token texts score in one
  request.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seqkeras.language_model.model import LanguageModel
from seqkeras.sampling import BeamSampler, GreedySampler, RandomSampler
from seqkeras.serving import Exporter, WarmupRequest, frequent_words

GENERATE_SIGNATURE = "generate"
GENERATE_BEAM_SIGNATURE = "generate_beam"
SCORE_SIGNATURE = "score"
# The longest prompt (in tokens) when the spec's ``export.max_tokens`` is 0.
DEFAULT_MAX_PROMPT_TOKENS = 2048


class LanguageModelServer(Exporter):
    """The serving module: in-graph tokenization, decoding and scoring around the model's
    stateless step interface.

    Args:
        model: the trained `LanguageModel`.
        tokenizer: a built `seqkeras.data` tokenizer whose vocabulary matches the
            model's embedding rows.
        beam_width_default: beam width used when a request sends beam_width ≤ 0.
        score_chunk_length: tokens per chunk in `score`.
        max_new_tokens_cap: the most tokens one request may generate.
        beam_width_cap: the widest beam one request may ask for.
        max_prompt_tokens: prompts are cut to their last this-many tokens.
        newline_as_eos: split scored texts and prompts into lines, each ending in
            ``<eos>``; None: True for word tokenizers with ``add_eos``.
        warmup_prompt: the prompt of the warm-up requests; None: the most frequent
            ordinary token of the vocabulary.

    Functions (besides the signatures): ``step(token_ids int32[B], states) ->
    (logits [B, V], states)`` and ``encode_prompt(prompt string[B]) -> (logits,
    states)``, the stateless pieces a streaming client can drive itself.
    """

    def __init__(self, model, tokenizer, beam_width_default=4, score_chunk_length=256,
                 max_new_tokens_cap=1024, beam_width_cap=16, max_prompt_tokens=DEFAULT_MAX_PROMPT_TOKENS,
                 newline_as_eos=None, warmup_prompt=None, name="language_model_server"):
        super().__init__(name=name)
        for argument, value in (("beam_width_default", beam_width_default),
                                ("score_chunk_length", score_chunk_length),
                                ("max_new_tokens_cap", max_new_tokens_cap),
                                ("beam_width_cap", beam_width_cap),
                                ("max_prompt_tokens", max_prompt_tokens)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Received an invalid value for argument `{argument}`, expected "
                                 f"a positive integer, received {argument}={value!r}")
        if not isinstance(model, LanguageModel):
            raise ValueError("The model must be a seqkeras.language_model.LanguageModel (layers 'embedding', "
                             "'recurrent', 'logits'; or 'context' or 'convolution' for the other kinds), "
                             f"received {type(model).__name__}")
        vocabulary = getattr(tokenizer, "vocabulary", None)
        if vocabulary is None:
            raise ValueError("The tokenizer has no vocabulary: adapt it or load its vocabulary first")
        vocab_size = len(vocabulary)
        if model.vocabulary_size != vocab_size:
            raise ValueError(f"The tokenizer's vocabulary has {vocab_size} tokens but the model's "
                             f"embedding has {model.vocabulary_size} rows: wrong vocabulary for this model")

        # The model itself is not tracked (its optimizer slots would be exported too),
        # only its weights.
        object.__setattr__(self, "model", model)
        self.model_weights = list(model.weights)
        self.tokenizer = tokenizer
        self.state_sizes = model.state_sizes
        self.vocab_size = vocab_size
        self.beam_width_default = int(beam_width_default)
        self.score_chunk_length = int(score_chunk_length)
        self.max_new_tokens_cap = int(max_new_tokens_cap)
        self.beam_width_cap = int(min(beam_width_cap, vocab_size))
        self.max_prompt_tokens = int(max_prompt_tokens)
        self.warmup_prompt = frequent_words(vocabulary)[0] if warmup_prompt is None else warmup_prompt
        word_level = getattr(tokenizer, "separator", " ") != ""
        self.newline_as_eos = bool(tokenizer.add_eos and word_level) if newline_as_eos is None \
            else bool(newline_as_eos)
        self.end_id = vocabulary.eos_id
        self.pad_id = vocabulary.pad_id
        if tokenizer.add_bos:
            self.start_id = None  # the tokenizer prepends <bos> itself
        else:
            self.start_id = vocabulary.bos_id if vocabulary.bos_id is not None else vocabulary.eos_id

        state_specs = [tf.TensorSpec([None, s], tf.float32) for s in self.state_sizes]
        self.step = tf.function(model.step, input_signature=[tf.TensorSpec([None], tf.int32), state_specs])
        self.encode_prompt = tf.function(self._encode_prompt,
                                         input_signature=[tf.TensorSpec([None], tf.string)])
        self.generate = tf.function(self._generate, input_signature=[
            tf.TensorSpec([None], tf.string, name="prompt"),
            tf.TensorSpec([], tf.int32, name="max_new_tokens"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.float32, name="top_p"),
            tf.TensorSpec([], tf.int32, name="seed"),
        ])
        self.generate_beam = tf.function(self._generate_beam, input_signature=[
            tf.TensorSpec([None], tf.string, name="prompt"),
            tf.TensorSpec([], tf.int32, name="max_new_tokens"),
            tf.TensorSpec([], tf.int32, name="beam_width"),
        ])
        self.score = tf.function(self._score, input_signature=[tf.TensorSpec([None], tf.string, name="text")])

    def _token_ids(self, texts):
        """string[B] → ragged int64[B, None], the stream `score` predicts (see module doc)."""
        # Invalid UTF-8 from a client becomes U+FFFD (then <unk>), never a kernel error.
        texts = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace")
        if not self.newline_as_eos:
            return tf.cast(self.tokenizer(texts), tf.int64)
        lines = tf.strings.split(tf.strings.regex_replace(texts, r"\n\z", ""), "\n")
        line_ids = tf.cast(self.tokenizer(lines.flat_values), tf.int64)
        return tf.RaggedTensor.from_row_lengths(line_ids, lines.row_lengths()).merge_dims(1, 2)

    def _encode_prompt(self, prompt):
        """string[B] → (logits of the first new token [B, V], states after the prompt)."""
        ids = self._token_ids(prompt)
        if self.tokenizer.add_eos:
            ids = ids[:, :-1]
        ids = ids[:, -self.max_prompt_tokens:]
        batch = tf.shape(prompt)[0]
        if self.start_id is not None:
            start = tf.fill([batch, 1], tf.constant(self.start_id, tf.int64))
            ids = tf.concat([start, ids], axis=1)
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        # One extra masked column so that every row has ≥ 1 step (masked steps keep the
        # state: an empty row ends in the zero state).
        dense = tf.pad(ids.to_tensor(default_value=self.pad_id), [[0, 0], [0, 1]])
        mask = tf.sequence_mask(lengths, tf.shape(dense)[1])
        outputs, states = self.model.run_sequence(dense, mask, self.model.initial_states(batch))
        # Each row's output at its last token (a residual stack adds the unmasked input,
        # so masked columns do not repeat it); an empty row has output 0.
        last = tf.gather(outputs, tf.maximum(lengths - 1, 0), batch_dims=1)
        last = tf.where((lengths > 0)[:, None], last, tf.zeros_like(last))
        return self.model.output_logits(last), states

    # -- signatures --------------------------------------------------------------------
    def _generate(self, prompt, max_new_tokens, temperature, top_k, top_p, seed):
        max_new_tokens = tf.clip_by_value(max_new_tokens, 0, self.max_new_tokens_cap)
        logits, states = self._encode_prompt(prompt)

        def sample():
            sampler = RandomSampler(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
            return sampler(self.model.step, logits, states, max_new_tokens, self.end_id, self.pad_id)[0]

        def greedy():
            return GreedySampler()(self.model.step, logits, states, max_new_tokens, self.end_id, self.pad_id)[0]

        tokens = tf.cond(temperature > 0.0, sample, greedy)
        return {"text": self.tokenizer.detokenize(tokens)}

    def _generate_beam(self, prompt, max_new_tokens, beam_width):
        max_new_tokens = tf.clip_by_value(max_new_tokens, 0, self.max_new_tokens_cap)
        beam_width = tf.where(beam_width <= 0, self.beam_width_default, beam_width)
        beam_width = tf.clip_by_value(beam_width, 1, self.beam_width_cap)
        logits, states = self._encode_prompt(prompt)
        tokens, _, scores = BeamSampler(beam_width)(
            self.model.step, logits, states, max_new_tokens, self.end_id, self.pad_id)
        return {"text": self.tokenizer.detokenize(tokens), "score": scores}

    def _score(self, text):
        ids = self._token_ids(text)
        batch = tf.shape(text)[0]
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        dense = tf.cast(ids.to_tensor(default_value=self.pad_id), tf.int32)
        chunk = self.score_chunk_length
        predicted = tf.maximum(tf.shape(dense)[1] - 1, 0)
        num_chunks = (predicted + chunk - 1) // chunk
        width = num_chunks * chunk + 1
        dense = tf.pad(dense, [[0, 0], [0, width - tf.shape(dense)[1]]])
        positions = tf.range(chunk)[None, :]

        def body(i, states, total):
            start = i * chunk
            inputs = dense[:, start:start + chunk]
            targets = dense[:, start + 1:start + chunk + 1]
            # No mask: a row's state after its last token is never used for a counted
            # prediction, and unmasked steps are ~30% cheaper.
            outputs, states = self.model.run_sequence(inputs, None, states)
            logits = self.model.output_logits(outputs)
            log_p = -tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
            valid = start + 1 + positions < lengths[:, None]
            total += tf.reduce_sum(tf.cast(tf.where(valid, log_p, 0.0), tf.float64), axis=1)
            return i + 1, states, total

        _, _, total = tf.while_loop(
            lambda i, *_: i < num_chunks, body,
            (tf.constant(0), self.model.initial_states(batch), tf.zeros([batch], tf.float64)),
            maximum_iterations=num_chunks,
        )
        num_tokens = tf.maximum(lengths - 1, 0)
        perplexity = tf.where(
            num_tokens > 0,
            tf.exp(-total / tf.cast(tf.maximum(num_tokens, 1), tf.float64)),
            tf.constant(float("nan"), tf.float64),
        )
        return {"log_prob": tf.cast(total, tf.float32), "num_tokens": num_tokens,
                "perplexity": tf.cast(perplexity, tf.float32)}

    # -- export ------------------------------------------------------------------------
    def signatures(self):
        """The serving signatures: generate (also serving_default), generate_beam, score."""
        generate = self.generate.get_concrete_function()
        return {
            "serving_default": generate,
            GENERATE_SIGNATURE: generate,
            GENERATE_BEAM_SIGNATURE: self.generate_beam.get_concrete_function(),
            SCORE_SIGNATURE: self.score.get_concrete_function(),
        }

    def warmup_requests(self):
        """One request per signature: greedy (serving_default) and sampled generate, beam,
        score, all on `warmup_prompt`."""
        prompt = self.warmup_prompt
        generate = {"prompt": [prompt], "max_new_tokens": np.int32(8), "top_k": np.int32(0),
                    "top_p": np.float32(1.0), "seed": np.int32(0)}
        return [
            WarmupRequest("serving_default", {**generate, "temperature": np.float32(0.0)}),
            WarmupRequest(GENERATE_SIGNATURE, {**generate, "temperature": np.float32(1.0),
                                               "top_k": np.int32(10), "top_p": np.float32(0.9)}),
            WarmupRequest(GENERATE_BEAM_SIGNATURE, {"prompt": [prompt], "max_new_tokens": np.int32(8),
                                                    "beam_width": np.int32(2)}),
            WarmupRequest(SCORE_SIGNATURE, {"text": [prompt + " " + prompt]}),
        ]


def export_language_model(model, tokenizer, export_dir_base="saved_models", model_name="language_model",
                          version="auto", validate=True, **options):
    """`LanguageModelServer(model, tokenizer, **options).export(...)`: writes and returns
    ``<export_dir_base>/<model_name>/<version>/``."""
    return LanguageModelServer(model, tokenizer, **options).export(export_dir_base, model_name, version, validate)
