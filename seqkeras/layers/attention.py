"""`Attention`: Bahdanau (additive) and Luong (general / dot) attention over a memory.

Scores of a query q against the memory rows m_s (encoder outputs), then a masked
softmax and the weighted sum (SPEC §3, encoder–decoder with attention)::

    additive (Bahdanau et al. 2015):  e_s = vᵀ tanh(W_q q + W_k m_s)
    general  (Luong et al. 2015):     e_s = qᵀ W m_s
    dot      (Luong et al. 2015):     e_s = qᵀ m_s            (needs dim q == dim m)
    α = softmax(e) over the unmasked s     (masked s get weight exactly 0)
    c = Σ_s α_s m_s

A row whose memory is masked everywhere (an empty source) gets α = 0 and c = 0,
never NaN.

The key side of the score (W_k m for additive) does not depend on the query: a
decoder computes it once per source with `keys` and passes it to every step.
"""

import keras
import tensorflow as tf

SCORES = ("additive", "general", "dot")


@keras.saving.register_keras_serializable(package="seqkeras")
class Attention(keras.layers.Layer):
    """Attention of one query (or one query per target step) over a memory.

    Args:
        score: ``"additive"`` (Bahdanau), ``"general"`` or ``"dot"`` (Luong).
        units: width A of the additive score's hidden layer (0 = the query width);
            unused by general/dot.

    Call args:
        query: ``[B, Dq]`` (one decoder step) or ``[B, T, Dq]`` (all target steps).
        memory: ``[B, S, Dm]``, the encoder outputs.
        memory_mask: optional bool ``[B, S]``, False at padded source positions.
        keys: optional precomputed `keys(memory)`.

    Returns:
        ``(context [B, Dm] or [B, T, Dm], weights [B, S] or [B, T, S])``.

    Example:
        >>> att = Attention("general")
        >>> c, a = att(np.zeros((2, 4), "float32"), np.ones((2, 5, 6), "float32"))
        >>> c.shape, a.shape
        (TensorShape([2, 6]), TensorShape([2, 5]))
    """

    def __init__(self, score="general", units=0, **kwargs):
        super().__init__(**kwargs)
        if score not in SCORES:
            raise ValueError(f"Received an invalid value for argument `score`, expected one of "
                             f"{list(SCORES)}, received score={score!r}")
        if isinstance(units, bool) or not isinstance(units, int) or units < 0:
            raise ValueError(f"Received an invalid value for argument `units`, expected a "
                             f"non-negative integer, received units={units!r}")
        self.score = score
        self.units = units

    def build(self, query_shape, memory_shape=None, *args, **kwargs):
        if memory_shape is None:
            raise ValueError("Attention must be called with both `query` and `memory`")
        dq, dm = int(query_shape[-1]), int(memory_shape[-1])
        if self.score == "dot" and dq != dm:
            raise ValueError(f"Dot attention needs query and memory of the same width, received "
                             f"query width {dq} and memory width {dm}; use score='general'")
        if self.score == "additive":
            units = self.units or dq
            self.query_kernel = self.add_weight(shape=(dq, units), name="query_kernel")
            self.key_kernel = self.add_weight(shape=(dm, units), name="key_kernel")
            self.score_vector = self.add_weight(shape=(units,), name="score_vector")
        elif self.score == "general":
            self.kernel = self.add_weight(shape=(dq, dm), name="kernel")
        self.built = True

    def keys(self, memory):
        """The query-independent side of the score: W_k m (additive), else m."""
        memory = tf.convert_to_tensor(memory)
        if self.score == "additive":
            return tf.einsum("bsd,da->bsa", memory, tf.cast(self.key_kernel, memory.dtype))
        return memory

    def scores(self, query, keys):
        """Unnormalised scores e: ``[B, (T,) Dq]`` × ``[B, S, K]`` → ``[B, (T,) S]``."""
        single = query.shape.rank == 2
        q = query[:, None, :] if single else query                        # [B, T, Dq]
        if self.score == "additive":
            projected = tf.einsum("btd,da->bta", q, tf.cast(self.query_kernel, q.dtype))
            hidden = tf.tanh(projected[:, :, None, :] + keys[:, None, :, :])   # [B, T, S, A]
            e = tf.einsum("btsa,a->bts", hidden, tf.cast(self.score_vector, q.dtype))
        else:
            if self.score == "general":
                q = tf.einsum("btd,dm->btm", q, tf.cast(self.kernel, q.dtype))
            e = tf.einsum("btm,bsm->bts", q, keys)
        return e[:, 0] if single else e

    def call(self, query, memory, memory_mask=None, keys=None):
        query = tf.convert_to_tensor(query)
        memory = tf.convert_to_tensor(memory)
        keys = self.keys(memory) if keys is None else keys
        e = self.scores(query, keys)
        if memory_mask is None:
            weights = tf.nn.softmax(e, axis=-1)
        else:
            mask = tf.cast(memory_mask, tf.bool)
            if query.shape.rank == 3:
                mask = mask[:, None, :]
            # Softmax over a finite fill, then an exact zero at masked positions: a
            # fully masked row gives zeros instead of NaN.
            weights = tf.nn.softmax(tf.where(mask, e, tf.constant(-1e9, e.dtype)), axis=-1)
            weights = weights * tf.cast(mask, weights.dtype)
        if query.shape.rank == 2:
            context = tf.einsum("bs,bsd->bd", weights, memory)
        else:
            context = tf.einsum("bts,bsd->btd", weights, memory)
        return context, weights

    def compute_output_shape(self, query_shape, memory_shape=None, *args, **kwargs):
        return (tuple(query_shape[:-1]) + (memory_shape[-1],),
                tuple(query_shape[:-1]) + (memory_shape[1],))

    def get_config(self):
        config = super().get_config()
        config.update({"score": self.score, "units": self.units})
        return config
