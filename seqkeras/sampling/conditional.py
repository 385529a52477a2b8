"""Decoding of a conditional model (encoder–decoder): a start token, a per-row length limit.

A conditional model (`seqkeras.layers.TokenDecoding`: the translator, the captioner)
exposes ``step(token_ids int32[B], states, context) → (logits [B, V], states)``; its
context (a `seqkeras.layers.DecoderContext`) is what the decoder attends to and is
constant over the steps, so it is captured by the step function and, for beam search,
tiled to the beams (``context.tile(width)``). Decoding starts by feeding ``<bos>``.

The length limit is a per-row ``limits`` int32[B] (tokens, ``<eos>`` included),
whatever it comes from: translation derives it from the source length
(`seqkeras.translation.decoding.length_limits`), captioning uses one constant for
every image. A row still open at its limit is cut there (beam search: the open beam
competes with its score so far).

* `greedy_decode` runs `GreedySampler`;
* `beam_decode` runs `LengthPenaltyBeamSampler` (width 1 is exactly greedy).
"""

from __future__ import annotations

import tensorflow as tf

from seqkeras.sampling.beam_sampler import NEG_INF, BeamSampler
from seqkeras.sampling.greedy_sampler import GreedySampler


def length_penalty_factor(lengths, alpha):
    """GNMT's lp(|y|) = ((5 + |y|) / 6) ** α."""
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, tf.cast(alpha, tf.float32))


class LengthPenaltyBeamSampler(BeamSampler):
    """`BeamSampler` whose final choice among the beams is length-penalised.

    Args:
        beam_width: int ≥ 1 (Python or scalar tensor), ≤ V.
        length_penalty: α of `length_penalty_factor` (0 = none: the plain
            `BeamSampler` result).

    Call args: as `BeamSampler` (``limits`` int32[B]: tokens per row);
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


def _start(model, context, states, batch, bos_id):
    return model.step(tf.fill([batch], tf.constant(bos_id, tf.int32)), states, context)


def greedy_decode(model, context, states, limits, bos_id, end_id, pad_id=0):
    """Greedy decoding of every row up to its limit.

    Args:
        model: has ``step(token_ids, states, context)``.
        context: the `DecoderContext` of the batch; states: the initial states.
        limits: int32[B], tokens per row.
        bos_id, end_id, pad_id: start, stop and padding ids.

    Returns:
        ``(tokens int32[B, N], lengths int32[B])``; tokens past a row's limit are
        `pad_id`, lengths count ``<eos>``.
    """
    limits = tf.cast(limits, tf.int32)
    logits, states = _start(model, context, states, tf.shape(limits)[0], bos_id)
    step_fn = lambda token, states: model.step(token, states, context)  # noqa: E731
    tokens, lengths = GreedySampler()(step_fn, logits, states, tf.reduce_max(limits), end_id, pad_id)
    keep = tf.range(tf.shape(tokens)[1])[None, :] < limits[:, None]
    return tf.where(keep, tokens, pad_id), tf.minimum(lengths, limits)


def beam_decode(model, context, states, limits, beam_width, length_penalty=0.0, bos_id=2, end_id=3, pad_id=0):
    """Beam search of every row up to its limit (arguments as `greedy_decode`).

    Returns:
        ``(tokens int32[B, N], lengths int32[B], scores float32[B])`` of the best
        beam by length-penalised score (`LengthPenaltyBeamSampler`).
    """
    limits = tf.cast(limits, tf.int32)
    logits, states = _start(model, context, states, tf.shape(limits)[0], bos_id)
    wide = context.tile(tf.cast(beam_width, tf.int32))
    step_fn = lambda token, states: model.step(token, states, wide)  # noqa: E731
    sampler = LengthPenaltyBeamSampler(beam_width, length_penalty)
    return sampler(step_fn, logits, states, tf.reduce_max(limits), end_id, pad_id, limits=limits)
