"""In-graph decoding of a `Translator`: greedy and beam search with a length penalty.

The loops are the shared `seqkeras.sampling.greedy_decode` / `beam_decode` (a
`tf.while_loop`; no Python loop over steps, no py_function) with the decoder's step
as ``step_fn`` and the encoder outputs as a constant captured by it; the final
choice among the beams applies the GNMT length penalty ``score / ((5 + |y|) / 6) ** α``
(`seqkeras.sampling.LengthPenaltyBeamSampler`, α = 0: raw Σ log p). Width 1 is
exactly greedy. What is translation's own is the length limit:

Length limit of source b (tokens, ``<eos>`` included): ``max_length`` when > 0, else
``floor(a · |x_b| + b)``; both capped at ``cap``. A hypothesis still open at its limit
is cut there (it competes with its score so far).
"""

from __future__ import annotations

import tensorflow as tf

from seqkeras.data.vocabulary import PAD_ID
from seqkeras.sampling import beam_decode, greedy_decode, length_penalty_factor

BOS_ID, EOS_ID = 2, 3

__all__ = ["BOS_ID", "EOS_ID", "beam_search", "greedy", "length_limits",
           "length_penalty_factor"]


def length_limits(source_ids, max_length=0, a=1.5, b=10, cap=200):
    """Per-source token limits int32[B] (see the module doc)."""
    source_lengths = tf.reduce_sum(tf.cast(tf.not_equal(source_ids, 0), tf.float32), axis=1)
    relative = tf.cast(tf.floor(a * source_lengths + float(b)), tf.int32)
    max_length = tf.cast(max_length, tf.int32)
    limits = tf.where(max_length > 0, tf.fill(tf.shape(relative), max_length), relative)
    return tf.clip_by_value(limits, 0, cap)


def greedy(model, source_ids, limits, end_id=EOS_ID):
    """Greedy translation of source ids int[B, S] → (tokens int32[B, N], lengths int32[B]).

    Tokens past a row's limit are padding; lengths count ``<eos>``.
    """
    context, states = model.encode(source_ids)
    return greedy_decode(model, context, states, limits, BOS_ID, end_id, PAD_ID)


def beam_search(model, source_ids, limits, beam_width, length_penalty=0.0, end_id=EOS_ID):
    """Beam translation of source ids int[B, S] → (tokens int32[B, N], lengths, scores float32[B])."""
    context, states = model.encode(source_ids)
    return beam_decode(model, context, states, limits, beam_width, length_penalty, BOS_ID, end_id, PAD_ID)
