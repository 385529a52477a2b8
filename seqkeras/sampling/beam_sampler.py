"""`BeamSampler`: beam search over a recurrent model, the state reordered with the beams."""

from __future__ import annotations

import tensorflow as tf

from seqkeras.sampling.sampler import Sampler

NEG_INF = -1e9


class BeamSampler(Sampler):
    """Beam search: keep the `beam_width` best partial sequences by total log-probability.

    As in keras-hub's `BeamSampler`, beam search needs its own loop (`__call__`): the
    batch is widened to [B·W] rows, and after each step the recurrent states and the
    token histories are gathered along the chosen beams. `get_next_token` is the hook
    that chooses them: from the candidate scores [B, W·V] it returns the W best.

    Score of a sequence = Σ log p(token) over its generated tokens, up to and
    including `end_id` (no length normalisation). A finished beam is extended only by
    `pad_id` at log-probability 0, so it keeps its score and competes with the open
    beams. With ``beam_width=1`` this is exactly greedy decoding.

    Args:
        beam_width: int ≥ 1 (Python or scalar tensor); the caller clamps it to ≤ V.

    Call args: as `Sampler`, plus optional ``limits`` int32[B]: row b stops growing
    after ``limits[b]`` tokens (its open beams compete with their score so far).

    Hooks: `get_next_token` (which candidates survive a step) and `choose_final`
    (which surviving beam is returned).

    Returns:
        ``(tokens int32[B, N], lengths int32[B], scores float32[B])`` for the best beam.
    """

    def __init__(self, beam_width=4):
        self.beam_width = beam_width

    def get_next_token(self, scores, step):
        """Top `beam_width` candidates of scores [B, W·V] → (values, flat indices)."""
        return tf.math.top_k(scores, k=tf.cast(self.beam_width, tf.int32), sorted=True)

    def choose_final(self, scores, lengths):
        """Beam index int32[B] to return from scores, lengths [B, W]: beams stay sorted by
        score, so beam 0."""
        return tf.zeros([tf.shape(scores)[0]], tf.int32)

    def __call__(self, step_fn, next_logits, states, max_new_tokens, end_id=None, pad_id=0, limits=None):
        next_logits = tf.cast(tf.convert_to_tensor(next_logits), tf.float32)
        batch = tf.shape(next_logits)[0]
        vocab = tf.shape(next_logits)[1]
        width = tf.cast(self.beam_width, tf.int32)
        max_new_tokens = tf.maximum(tf.cast(max_new_tokens, tf.int32), 0)

        def widen(tensor):  # [B, ...] -> [B·W, ...], rows b·W .. b·W + W − 1
            return tf.repeat(tensor, width, axis=0)

        logits = widen(next_logits)
        states = [widen(tf.convert_to_tensor(s)) for s in states]
        # Only beam 0 is live at the start, so the first step picks W distinct tokens.
        scores = tf.concat([tf.zeros([batch, 1]), tf.fill([batch, width - 1], NEG_INF)], axis=1)
        done = tf.zeros([batch, width], tf.bool)
        lengths = tf.zeros([batch, width], tf.int32)
        history = tf.zeros([batch, width, 0], tf.int32)
        pad_row = tf.where(tf.range(vocab) == pad_id, 0.0, NEG_INF)  # [V]

        def cond(step, logits, states, scores, done, lengths, history):
            return tf.logical_and(step < max_new_tokens, tf.logical_not(tf.reduce_all(done)))

        def body(step, logits, states, scores, done, lengths, history):
            if limits is not None:
                done = tf.logical_or(done, (step >= tf.cast(limits, tf.int32))[:, None])
            log_probs = tf.reshape(tf.nn.log_softmax(logits), [batch, width, vocab])
            log_probs = tf.where(done[:, :, None], pad_row[None, None, :], log_probs)
            candidates = tf.reshape(scores[:, :, None] + log_probs, [batch, width * vocab])
            scores, flat = self.get_next_token(candidates, step)
            beam = flat // vocab
            token = flat % vocab
            gather = lambda t: tf.gather(t, beam, batch_dims=1)  # noqa: E731
            done, lengths, history = gather(done), gather(lengths), gather(history)
            lengths += tf.cast(tf.logical_not(done), tf.int32)
            if end_id is not None:
                done = tf.logical_or(done, tf.equal(token, end_id))
            history = tf.concat([history, token[:, :, None]], axis=2)
            rows = tf.reshape(beam + tf.range(batch)[:, None] * width, [-1])
            states = [tf.gather(s, rows) for s in states]
            logits, states = step_fn(tf.reshape(token, [-1]), states)
            return step + 1, tf.cast(logits, tf.float32), list(states), scores, done, lengths, history

        _, _, _, scores, _, lengths, history = tf.while_loop(
            cond, body, (tf.constant(0), logits, states, scores, done, lengths, history),
            shape_invariants=(
                tf.TensorShape([]), tf.TensorShape([None, None]), [s.shape for s in states],
                tf.TensorShape([None, None]), tf.TensorShape([None, None]),
                tf.TensorShape([None, None]), tf.TensorShape([None, None, None]),
            ),
            maximum_iterations=max_new_tokens,
        )
        best = self.choose_final(scores, lengths)
        pick = lambda t: tf.gather(t, best, batch_dims=1)  # noqa: E731
        return pick(history), pick(lengths), pick(scores)
