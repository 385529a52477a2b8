"""`Sampler`: the in-graph decoding loop shared by every decoding strategy.

The shape follows keras-hub's samplers: the base class owns the whole loop (a
`tf.while_loop`, the stop token, padding after it) and a variant overrides one hook,
`get_next_token(logits, step)`. For a recurrent model the "cache" is simply the
recurrent state, carried through the loop by a stateless step function::

    step_fn(token_ids int32[B], states list of [B, S_i]) -> (logits float[B, V], new states)

Decoding starts from the logits of the next token and the state after the prompt
(see `seqkeras.language_model.server` for how a prompt is encoded). Each iteration
picks a token with `get_next_token`, marks rows that emitted `end_id` as done, and
feeds the token back through `step_fn`. The loop stops after `max_new_tokens` steps
or as soon as every row is done. Everything is graph ops: the loop runs inside a
SavedModel with no Python.
"""

from __future__ import annotations

import tensorflow as tf


class Sampler:
    """Base class: greedy/random/... decoding of a recurrent model inside the graph.

    Subclasses override `get_next_token`. Arguments of a subclass may be Python
    numbers or scalar tensors (e.g. a serving signature's inputs).

    Call args:
        step_fn: ``step_fn(token_ids int32[B], states) -> (logits [B, V], states)``.
        next_logits: float [B, V], logits of the first token to generate.
        states: list of [B, S_i] tensors, the state after the prompt.
        max_new_tokens: int scalar (Python or tensor), the most tokens to generate.
        end_id: optional int; a row stops after emitting it (the id is kept in the
            output, followed by `pad_id`).
        pad_id: id written after a row's `end_id`.

    Returns:
        ``(tokens int32[B, N], lengths int32[B])``: N ≤ max_new_tokens steps were run;
        ``lengths`` counts each row's tokens up to and including its `end_id`.

    Example:
        >>> tokens, lengths = GreedySampler()(step_fn, logits, states, 20, end_id=2)
    """

    def get_next_token(self, logits, step):
        """Pick the next token ids int32[B] from logits float32[B, V] at loop step `step`."""
        raise NotImplementedError

    def __call__(self, step_fn, next_logits, states, max_new_tokens, end_id=None, pad_id=0):
        next_logits = tf.cast(tf.convert_to_tensor(next_logits), tf.float32)
        states = [tf.convert_to_tensor(s) for s in states]
        batch = tf.shape(next_logits)[0]
        max_new_tokens = tf.maximum(tf.cast(max_new_tokens, tf.int32), 0)
        pad = tf.constant(pad_id, tf.int32)
        done = tf.zeros([batch], tf.bool)
        lengths = tf.zeros([batch], tf.int32)
        tokens = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=[None])

        def cond(step, logits, states, done, lengths, tokens):
            return tf.logical_and(step < max_new_tokens, tf.logical_not(tf.reduce_all(done)))

        def body(step, logits, states, done, lengths, tokens):
            token = tf.cast(self.get_next_token(logits, step), tf.int32)
            token = tf.where(done, pad, token)
            lengths += tf.cast(tf.logical_not(done), tf.int32)
            if end_id is not None:
                done = tf.logical_or(done, tf.equal(token, end_id))
            tokens = tokens.write(step, token)
            logits, states = step_fn(token, states)
            return step + 1, tf.cast(logits, tf.float32), list(states), done, lengths, tokens

        steps, _, _, _, lengths, tokens = tf.while_loop(
            cond, body, (tf.constant(0), next_logits, states, done, lengths, tokens),
            maximum_iterations=max_new_tokens,
        )
        tokens = tf.cond(
            steps > 0,
            lambda: tf.transpose(tokens.stack()),
            lambda: tf.zeros([batch, 0], tf.int32),
        )
        return tokens, lengths
