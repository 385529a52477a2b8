"""`GreedySampler`: always the most probable token."""

import tensorflow as tf

from seqkeras.sampling.sampler import Sampler


class GreedySampler(Sampler):
    """Greedy decoding: ``argmax_v logits[b, v]`` at every step (first index on ties).

    Example:
        >>> tokens, lengths = GreedySampler()(step_fn, logits, states, 50, end_id=eos)
    """

    def get_next_token(self, logits, step):
        return tf.argmax(logits, axis=-1, output_type=tf.int32)
