"""Linear-chain conditional random field (CRF) for sequence tagging.

Model
-----
For emissions ``emit`` of shape ``[T, K]`` (unnormalised per-step tag scores,
e.g. the output of ``Dense(num_tags)``) and a tag sequence ``y = (y_1..y_T)``
the CRF score is::

    score(y) = start[y_1] + sum_{t=1..T} emit[t, y_t]
                          + sum_{t=2..T} trans[y_{t-1}, y_t] + end[y_T]

where ``trans[i, j]`` scores moving from tag ``i`` to tag ``j`` and ``start`` /
``end`` are the optional boundary transitions (zero when
``use_boundary_transitions=False``).  The log-likelihood of the gold path is::

    log p(y | emit) = score(y) - log Z,
    log Z = logsumexp_y score(y)

``log Z`` is computed by the forward algorithm in ``O(T K^2)``::

    alpha_1[j] = start[j] + emit[1, j]
    alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + trans[i, j]) + emit[t, j]
    log Z      = logsumexp_j(alpha_T[j] + end[j])

and decoding (``argmax_y score(y)``) by the Viterbi algorithm, i.e. the same
recursion with ``max`` in place of ``logsumexp`` plus back-pointers.

Masks are ``bool[B, T]``, right-padded (``True`` for the first ``length``
steps of each sequence).  Padded steps carry the recursion state through
unchanged, so every sequence is scored on its own length.  A sequence of length
0 has log-likelihood 0, best score 0 and an all-zero path.  Everything is built
from core TensorFlow ops (``tf.scan``, ``tf.math.reduce_logsumexp``, gathers),
so a model containing the layer trains with ``fit`` and exports to a SavedModel
that loads without ``seqkeras`` installed.

Training with ``fit``
---------------------
The layer's output is the decoded path (``int32[B, T]``), which has no
gradient.  For training, give the model a second output, the emissions, and put
the CRF negative log-likelihood on it with :func:`crf_loss`; the loss uses the
layer's own weights, and because the layer is part of the model its
transitions are trained together with the rest of the network.  The Keras mask
carried by the emissions (e.g. from ``Embedding(mask_zero=True)``) is honoured
by the loss.  For serving, a model made of the same layers that outputs only the
tags is exported::

    import numpy as np, keras
    from seqkeras.layers.crf import CRF, crf_loss

    num_tags, vocab = 3, 20
    tokens = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab, 16, mask_zero=True)(tokens)
    emissions = keras.layers.Dense(num_tags)(x)
    crf = CRF(num_tags)
    tags = crf(emissions)
    model = keras.Model(tokens, {"emissions": emissions, "tags": tags})
    model.compile(optimizer="adam", loss={"emissions": crf_loss(crf)})

    x_ids = np.random.randint(1, vocab, size=(32, 7))  # 0 = padding
    y_ids = x_ids % num_tags
    model.fit(x_ids, {"emissions": y_ids}, epochs=1, verbose=0)

    tagger = keras.Model(tokens, tags)        # shares the trained layers
    predicted = tagger.predict(x_ids, verbose=0)   # int32[32, 7]
    # tagger.export("path/to/saved_model")  -> serve(tokens) -> int32 tags

Lower-level entry points: :meth:`CRF.log_likelihood`,
:meth:`CRF.negative_log_likelihood`, :meth:`CRF.log_partition`,
:meth:`CRF.sequence_score` and :meth:`CRF.decode`.
"""

import keras
import tensorflow as tf

__all__ = ["CRF", "CRFLoss", "crf_loss"]


@keras.saving.register_keras_serializable(package="seqkeras")
class CRF(keras.layers.Layer):
    """Linear-chain CRF over per-step tag scores; calling it Viterbi-decodes.

    Args:
        num_tags: Number of tags ``K`` (positive int).
        use_boundary_transitions: Whether to learn ``start_transitions`` and
            ``end_transitions`` (each ``[K]``) scoring the first and last tag.
        transitions_initializer: Initializer for ``transitions`` ``[K, K]``
            (``transitions[i, j]`` scores tag ``i`` followed by tag ``j``).
            Boundary transitions start at zero.
        transitions_regularizer: Optional regularizer for ``transitions``.
        viterbi_in_training: Whether calling the layer with ``training=True``
            (as ``fit`` does) runs Viterbi. Default False: training-mode calls
            return the per-step argmax of the emissions instead, since the
            decoded output carries no gradient and the loss (:func:`crf_loss`)
            reads the emissions; inference-mode calls always run Viterbi.
        **kwargs: Base layer arguments (``name``, ``dtype``, ...).

    Call arguments:
        emissions: float ``[B, T, K]`` unnormalised tag scores, ``T >= 1``.
        mask: optional bool ``[B, T]``, right-padded. Defaults to all valid,
            or to the Keras mask propagated with ``emissions``.
        training: in training mode (and unless ``viterbi_in_training``) the
            output is the per-step argmax, not the Viterbi path.

    Returns:
        int32 ``[B, T]`` Viterbi tag ids (argmax ids in training mode, see
        `viterbi_in_training`), 0 at padded positions.  The input
        mask is propagated to the output.
    """

    def __init__(
        self,
        num_tags,
        use_boundary_transitions=True,
        transitions_initializer="glorot_uniform",
        transitions_regularizer=None,
        viterbi_in_training=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags <= 0:
            raise ValueError(
                f"`num_tags` must be a positive integer, received {num_tags!r}."
            )
        if not isinstance(use_boundary_transitions, bool):
            raise ValueError(
                "`use_boundary_transitions` must be a bool, "
                f"received {use_boundary_transitions!r}."
            )
        self.num_tags = num_tags
        self.viterbi_in_training = bool(viterbi_in_training)
        self.use_boundary_transitions = use_boundary_transitions
        self.transitions_initializer = keras.initializers.get(transitions_initializer)
        self.transitions_regularizer = keras.regularizers.get(transitions_regularizer)
        self.supports_masking = True

    # ------------------------------------------------------------------ build
    def _check_last_dim(self, last_dim):
        if last_dim is not None and last_dim != self.num_tags:
            raise ValueError(
                "The last dimension of `emissions` must equal `num_tags`: "
                f"received emissions last dimension {last_dim} but "
                f"num_tags={self.num_tags}."
            )

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(
                "`emissions` must have rank 3 [batch, time, num_tags], "
                f"received shape {input_shape}."
            )
        self._check_last_dim(input_shape[-1])
        k = self.num_tags
        self.transitions = self.add_weight(
            name="transitions",
            shape=(k, k),
            initializer=self.transitions_initializer,
            regularizer=self.transitions_regularizer,
        )
        if self.use_boundary_transitions:
            self.start_transitions = self.add_weight(
                name="start_transitions", shape=(k,), initializer="zeros"
            )
            self.end_transitions = self.add_weight(
                name="end_transitions", shape=(k,), initializer="zeros"
            )
        else:
            self.start_transitions = None
            self.end_transitions = None

    # --------------------------------------------------------------- helpers
    def _prepare(self, emissions, mask):
        """Builds if needed; returns (emissions, mask, lengths, trans, start, end)."""
        emissions = tf.convert_to_tensor(emissions)
        if not self.built:
            self.build(emissions.shape)
        if emissions.shape.rank is not None and emissions.shape.rank != 3:
            raise ValueError(
                "`emissions` must have rank 3 [batch, time, num_tags], "
                f"received shape {emissions.shape}."
            )
        self._check_last_dim(emissions.shape[-1])
        dtype = self.transitions.dtype
        emissions = tf.cast(emissions, dtype)
        if mask is None:
            mask = tf.ones(tf.shape(emissions)[:2], dtype=tf.bool)
        else:
            mask = tf.cast(mask, tf.bool)
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        trans = tf.convert_to_tensor(self.transitions)
        if self.use_boundary_transitions:
            start = tf.convert_to_tensor(self.start_transitions)
            end = tf.convert_to_tensor(self.end_transitions)
        else:
            start = tf.zeros([self.num_tags], dtype)
            end = tf.zeros([self.num_tags], dtype)
        return emissions, mask, lengths, trans, start, end

    # ------------------------------------------------------------ likelihood
    def log_partition(self, emissions, mask=None):
        """log Z by the forward algorithm.

        Args:
            emissions: float ``[B, T, K]``.
            mask: optional bool ``[B, T]``, right-padded.

        Returns:
            float ``[B]``; 0 for sequences of length 0.
        """
        emissions, mask, lengths, trans, start, end = self._prepare(emissions, mask)
        return self._log_partition(emissions, mask, lengths, trans, start, end)

    def _log_partition(self, emissions, mask, lengths, trans, start, end):
        alpha0 = start[None, :] + emissions[:, 0]  # [B, K]

        def step(alpha, inputs):
            emit_t, mask_t = inputs  # [B, K], [B]
            # [B, K(from), 1] + [1, K(from), K(to)] -> logsumexp over `from`.
            new = tf.reduce_logsumexp(alpha[:, :, None] + trans[None], axis=1) + emit_t
            return tf.where(mask_t[:, None], new, alpha)

        rest = (
            tf.transpose(emissions[:, 1:], [1, 0, 2]),
            tf.transpose(mask[:, 1:], [1, 0]),
        )
        alpha = tf.foldl(step, rest, initializer=alpha0)
        log_z = tf.reduce_logsumexp(alpha + end[None, :], axis=1)
        return tf.where(lengths > 0, log_z, tf.zeros_like(log_z))

    def sequence_score(self, emissions, tags, mask=None):
        """Unnormalised score(y) of the given tag paths.

        Args:
            emissions: float ``[B, T, K]``.
            tags: int ``[B, T]`` tag ids in ``[0, K)`` (ignored where padded).
            mask: optional bool ``[B, T]``, right-padded.

        Returns:
            float ``[B]``; 0 for sequences of length 0.
        """
        emissions, mask, lengths, trans, start, end = self._prepare(emissions, mask)
        return self._sequence_score(emissions, tags, mask, lengths, trans, start, end)

    def _sequence_score(self, emissions, tags, mask, lengths, trans, start, end):
        tags = tf.cast(tags, tf.int32)
        tags = tf.where(mask, tags, tf.zeros_like(tags))
        weights = tf.cast(mask, emissions.dtype)
        emit = tf.gather(emissions, tags, axis=2, batch_dims=2)  # [B, T]
        score = tf.reduce_sum(emit * weights, axis=1)
        pairs = tf.stack([tags[:, :-1], tags[:, 1:]], axis=-1)  # [B, T-1, 2]
        pair_scores = tf.gather_nd(trans, pairs)  # [B, T-1]
        score += tf.reduce_sum(pair_scores * weights[:, 1:], axis=1)
        nonempty = lengths > 0
        first = tags[:, 0]
        last = tf.gather(tags, tf.maximum(lengths - 1, 0), batch_dims=1)
        boundary = tf.gather(start, first) + tf.gather(end, last)
        score += tf.where(nonempty, boundary, tf.zeros_like(boundary))
        return score

    def log_likelihood(self, emissions, tags, mask=None):
        """log p(tags | emissions) = score(tags) - log Z.

        Args:
            emissions: float ``[B, T, K]``.
            tags: int ``[B, T]`` gold tag ids (ignored where padded).
            mask: optional bool ``[B, T]``, right-padded.

        Returns:
            float ``[B]`` (in the layer's variable dtype); 0 for length 0.
        """
        emissions, mask, lengths, trans, start, end = self._prepare(emissions, mask)
        score = self._sequence_score(emissions, tags, mask, lengths, trans, start, end)
        log_z = self._log_partition(emissions, mask, lengths, trans, start, end)
        return score - log_z

    def negative_log_likelihood(self, emissions, tags, mask=None):
        """``-log_likelihood``: the per-sequence training loss, float ``[B]``."""
        return -self.log_likelihood(emissions, tags, mask)

    # --------------------------------------------------------------- decoding
    def decode(self, emissions, mask=None):
        """Viterbi decoding.

        Args:
            emissions: float ``[B, T, K]``.
            mask: optional bool ``[B, T]``, right-padded.

        Returns:
            ``(tags, best_score)``: int32 ``[B, T]`` best paths (0 where
            padded) and float ``[B]`` their scores (0 for length 0).
        """
        emissions, mask, lengths, trans, start, end = self._prepare(emissions, mask)
        steps = tf.shape(emissions)[1]
        # One extra masked step, so the scans below never run over zero elements
        # (T = 1): a graph with an unknown batch size cannot stack an empty list.
        emissions = tf.pad(emissions, [[0, 0], [0, 1], [0, 0]])
        mask = tf.pad(mask, [[0, 0], [0, 1]])
        k = self.num_tags
        delta0 = start[None, :] + emissions[:, 0]  # [B, K]
        identity = tf.range(k, dtype=tf.int32)

        def forward(carry, inputs):
            delta, _ = carry
            emit_t, mask_t = inputs
            scores = delta[:, :, None] + trans[None]  # [B, K(from), K(to)]
            best_prev = tf.argmax(scores, axis=1, output_type=tf.int32)  # [B, K]
            new = tf.reduce_max(scores, axis=1) + emit_t
            # Padded steps: keep the state and point every tag back to itself.
            delta = tf.where(mask_t[:, None], new, delta)
            backpointers = tf.where(
                mask_t[:, None], best_prev, tf.broadcast_to(identity, tf.shape(best_prev))
            )
            return delta, backpointers

        rest = (
            tf.transpose(emissions[:, 1:], [1, 0, 2]),
            tf.transpose(mask[:, 1:], [1, 0]),
        )
        batch = tf.shape(emissions)[0]
        init = (delta0, tf.zeros([batch, k], tf.int32))
        deltas, backpointers = tf.scan(forward, rest, initializer=init)  # [T-1, B, K]
        final = tf.concat([delta0[None], deltas], axis=0)[-1] + end[None, :]
        best_last = tf.argmax(final, axis=1, output_type=tf.int32)  # [B]
        best_score = tf.reduce_max(final, axis=1)

        def backward(tag_next, bp_t):
            return tf.gather(bp_t, tag_next, batch_dims=1)

        earlier = tf.scan(backward, backpointers, initializer=best_last, reverse=True)
        tags = tf.concat([tf.transpose(earlier, [1, 0]), best_last[:, None]], axis=1)
        tags = tf.where(mask, tags, tf.zeros_like(tags))[:, :steps]
        best_score = tf.where(lengths > 0, best_score, tf.zeros_like(best_score))
        return tags, best_score

    # ------------------------------------------------------------ Keras API
    def call(self, emissions, mask=None, training=None):
        if training and not self.viterbi_in_training:
            # `fit` computes every output each step, but the decoded path has no
            # gradient and the loss only reads the emissions: skip the O(T K^2)
            # Viterbi scan (and its backtrace) and return the per-step argmax.
            emissions, mask, _, _, _, _ = self._prepare(emissions, mask)
            tags = tf.argmax(emissions, axis=-1, output_type=tf.int32)
            return tf.where(mask, tags, tf.zeros_like(tags))
        tags, _ = self.decode(emissions, mask)
        return tags

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1]

    def compute_output_spec(self, emissions, mask=None, training=None):
        return keras.KerasTensor(tuple(emissions.shape)[:-1], dtype="int32")

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_tags": self.num_tags,
                "use_boundary_transitions": self.use_boundary_transitions,
                "viterbi_in_training": self.viterbi_in_training,
                "transitions_initializer": keras.initializers.serialize(
                    self.transitions_initializer
                ),
                "transitions_regularizer": keras.regularizers.serialize(
                    self.transitions_regularizer
                ),
            }
        )
        return config


class CRFLoss(keras.losses.Loss):
    """Keras loss ``(y_true tags, y_pred emissions) -> CRF NLL`` for one layer.

    ``y_true`` is int ``[B, T]``, ``y_pred`` the emissions float ``[B, T, K]``
    fed to ``crf``.  The Keras mask attached to the emissions (if any) selects
    the valid steps; ``sample_weight`` (optional) is per sequence ``[B]``.
    The loss depends on ``crf``'s weights, so ``crf`` must be a layer of the
    model being trained (see the module docstring).  Not serializable: when
    reloading a saved model, load with ``compile=False`` and recompile.

    Args:
        crf: the :class:`CRF` layer whose parameters score the paths.
        reduction: ``"sum_over_batch_size"`` (mean NLL per sequence),
            ``"sum"``, or ``None``/``"none"`` (per-sequence ``[B]``).
        name: loss name.
    """

    _REDUCTIONS = ("sum_over_batch_size", "sum", "none", None)

    def __init__(self, crf, reduction="sum_over_batch_size", name="crf_loss"):
        if not isinstance(crf, CRF):
            raise ValueError(f"`crf` must be a CRF layer, received {crf!r}.")
        if reduction not in self._REDUCTIONS:
            raise ValueError(
                f"`reduction` must be one of {self._REDUCTIONS}, received {reduction!r}."
            )
        super().__init__(name=name, reduction=reduction)
        self.crf = crf

    def call(self, y_true, y_pred):
        return self.crf.negative_log_likelihood(y_pred, y_true)

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Overridden because Keras would apply the [B, T] mask of the emissions
        # element-wise to this per-sequence [B] loss; the mask belongs inside
        # the CRF instead.
        mask = getattr(y_pred, "_keras_mask", None)
        with tf.name_scope(self.name):
            nll = self.crf.negative_log_likelihood(y_pred, y_true, mask)
            if sample_weight is not None:
                sample_weight = tf.reshape(tf.cast(sample_weight, nll.dtype), [-1])
                nll = nll * sample_weight
            if self.reduction in ("none", None):
                return nll
            total = tf.reduce_sum(nll)
            if self.reduction == "sum":
                return total
            return total / tf.cast(tf.size(nll), nll.dtype)

def crf_loss(crf_layer, reduction="sum_over_batch_size"):
    """Returns a Keras loss computing the CRF NLL of ``crf_layer``.

    Use it on a model output holding the emissions fed to ``crf_layer``::

        model.compile(optimizer="adam", loss={"emissions": crf_loss(crf)})

    Args:
        crf_layer: the :class:`CRF` layer (part of the trained model).
        reduction: see :class:`CRFLoss`.

    Returns:
        A :class:`CRFLoss` instance.
    """
    return CRFLoss(crf_layer, reduction=reduction)
