"""In-graph decoding of a `Translator`: greedy and beam search with a length penalty.

Both reuse `seqkeras.sampling` (the loop is a `tf.while_loop`; no Python loop over
steps, no py_function) with the decoder's step as ``step_fn`` and the encoder
outputs as a constant captured by it (the recurrent state is the cache):

* `greedy` runs `seqkeras.sampling.GreedySampler`;
* `beam_search` runs `TranslationBeamSampler`, a `BeamSampler` whose loop also
  stops each source at its own length limit and whose final choice among the beams
  applies the GNMT length penalty: ``score / ((5 + |y|) / 6) ** α`` (α = 0: raw
  Σ log p, the plain `BeamSampler` result). Width 1 is exactly greedy.

Length limit of source b (tokens, ``<eos>`` included): ``max_length`` when > 0, else
``floor(a · |x_b| + b)``; both capped at ``cap``. A hypothesis still open at its limit
is cut there (it competes with its score so far).
"""

from __future__ import annotations

import tensorflow as tf

from seqkeras.data.vocabulary import PAD_ID
from seqkeras.sampling import BeamSampler, GreedySampler
from seqkeras.sampling.beam_sampler import NEG_INF

BOS_ID, EOS_ID = 2, 3


def length_limits(source_ids, max_length=0, a=1.5, b=10, cap=200):
    """Per-source token limits int32[B] (see the module doc)."""
    source_lengths = tf.reduce_sum(tf.cast(tf.not_equal(source_ids, 0), tf.float32), axis=1)
    relative = tf.cast(tf.floor(a * source_lengths + float(b)), tf.int32)
    max_length = tf.cast(max_length, tf.int32)
    limits = tf.where(max_length > 0, tf.fill(tf.shape(relative), max_length), relative)
    return tf.clip_by_value(limits, 0, cap)


def length_penalty_factor(lengths, alpha):
    """GNMT's lp(|y|) = ((5 + |y|) / 6) ** α."""
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, tf.cast(alpha, tf.float32))


class TranslationBeamSampler(BeamSampler):
    """`BeamSampler` whose final choice among the beams is length-penalised.

    Args:
        beam_width: int ≥ 1 (Python or scalar tensor), ≤ V.
        length_penalty: α of `length_penalty_factor` (0 = none).

    Call args: as `BeamSampler` (``limits`` int32[B]: tokens per source);
    ``max_new_tokens`` bounds the loop.

    Returns:
        ``(tokens int32[B, N], lengths int32[B], scores float32[B])``: the chosen
        beam; ``scores`` is its Σ log p (natural log, ``<eos>`` included), not
        divided by the penalty.
    """

    def __init__(self, beam_width=4, length_penalty=0.0):
        super().__init__(beam_width)
        self.length_penalty = length_penalty

    def choose_final(self, scores, lengths):
        """The beam with the best length-penalised score (never a dead beam)."""
        ranked = scores / length_penalty_factor(lengths, self.length_penalty)
        ranked = tf.where(scores <= NEG_INF / 2, NEG_INF, ranked)
        return tf.argmax(ranked, axis=1, output_type=tf.int32)


def _start(model, source_ids, context, states):
    bos = tf.fill([tf.shape(source_ids)[0]], tf.constant(BOS_ID, tf.int32))
    return model.step(bos, states, context)


def greedy(model, source_ids, limits, end_id=EOS_ID):
    """Greedy translation of source ids int[B, S] → (tokens int32[B, N], lengths int32[B]).

    Tokens past a row's limit are padding; lengths count ``<eos>``.
    """
    context, states = model.encode(source_ids)
    logits, states = _start(model, source_ids, context, states)
    step_fn = lambda token, states: model.step(token, states, context)  # noqa: E731
    tokens, lengths = GreedySampler()(step_fn, logits, states, tf.reduce_max(limits), end_id, PAD_ID)
    keep = tf.range(tf.shape(tokens)[1])[None, :] < limits[:, None]
    return tf.where(keep, tokens, PAD_ID), tf.minimum(lengths, limits)


def beam_search(model, source_ids, limits, beam_width, length_penalty=0.0, end_id=EOS_ID):
    """Beam translation of source ids int[B, S] → (tokens int32[B, N], lengths, scores float32[B])."""
    context, states = model.encode(source_ids)
    logits, states = _start(model, source_ids, context, states)
    wide = context.tile(tf.cast(beam_width, tf.int32))
    step_fn = lambda token, states: model.step(token, states, wide)  # noqa: E731
    sampler = TranslationBeamSampler(beam_width, length_penalty)
    return sampler(step_fn, logits, states, tf.reduce_max(limits), end_id, PAD_ID, limits=limits)
