"""The dilated causal convolution language model, ``model.kind = "dilated_cnn"``.

    ids int[B, T] ─ "embedding" ─ Dropout ─ "convolution" (`DilatedCausalConv`,
    stateful) ─ Dropout ─ "logits" → float32[B, T, V]

A WaveNet-style baseline for the recurrent LM: training computes every step of a
window in parallel; the prediction after x_t reads the last R tokens, R the stack's
receptive field (`ConvolutionalLanguageModel.receptive_field`; k = 2 and L layers of
dilations 1 … 2^{L−1}: R = 2^L).

Its state is the stack's per-layer queues of past activations (`DilatedCausalConv`),
carried across BPTT windows as the recurrent model carries h (no gradient flows into
the previous window, as in truncated BPTT). Generation and the export drive `step`,
which pushes one token through the queues — the fast queue-based generation of Paine
et al. (2016): O(layers) matmuls per token, never a re-run of the window.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from seqkeras.language_model.model import WindowedLanguageModel, output_logits, token_embedding, uniform_initializer
from seqkeras.layers.dilated import DilatedCausalConv


class ConvolutionalLanguageModel(WindowedLanguageModel):
    """The dilated convolution LM as a `seqkeras.language_model.LanguageModel`: state =
    the per-layer queues (``state_sizes == convolution.state_sizes``)."""

    parts = ("embedding", "convolution", "logits")

    def _find_parts(self):
        embedding, convolution, logits = (self._part(name) for name in self.parts)
        if not isinstance(convolution, DilatedCausalConv):
            raise ValueError(f"The layer 'convolution' must be a DilatedCausalConv, received {convolution!r}")
        return _Parts(embedding, convolution, logits)

    @property
    def receptive_field(self) -> int:
        """R, the tokens each prediction reads."""
        return self._parts.convolution.receptive_field

    @property
    def state_sizes(self) -> list[int]:
        return self._parts.convolution.state_sizes

    def _run(self, ids, states, lengths):
        parts = self._parts
        outputs, final = parts.convolution.run(parts.embedding(ids), states, lengths)
        return outputs, [tf.cast(s, tf.float32) for s in final]


class _Parts:
    """The layers the stateless interface runs (not tracked a second time)."""

    def __init__(self, embedding, convolution, logits):
        self.embedding, self.convolution, self.logits = embedding, convolution, logits


def build_dilated_language_model(vocabulary_size: int, batch_size: int | None = None, layers: int = 8,
                                 units: int = 128, kernel_size: int = 2, dilation_cycle: int = 0,
                                 embedding_dim: int = 0, tie_embeddings: bool = False, dropout: float = 0.0,
                                 init_scale: float = 0.0, softmax_precision: str = "float32",
                                 stateful: bool = True, sampled_softmax: int = 0,
                                 name: str = "language_model") -> ConvolutionalLanguageModel:
    """Build (not compile) the dilated causal convolution language model.

    Args:
        vocabulary_size: V.
        batch_size: the fixed batch size B (needed when `stateful`).
        layers, units, kernel_size, dilation_cycle: the `DilatedCausalConv` stack
            (L gated layers of C = `units` channels, dilations 1, 2, 4, …).
        embedding_dim: E (0 = `units`).
        tie_embeddings: logits use the embedding matrix (through a projection when
            units ≠ E).
        dropout: on the embeddings and on the stack's output.
        init_scale: > 0 initialises every weight uniform(−s, s).
        softmax_precision: ``"float32"`` or ``"bfloat16"`` output matmuls.
        stateful: carry the queues across batches (consecutive BPTT windows).
        sampled_softmax: k > 0 trains with a sampled softmax (see `LanguageModel`).

    Returns:
        `ConvolutionalLanguageModel` ``int32[B, T] → float32[B, T, V]`` (not compiled).

    Example:
        >>> model = build_dilated_language_model(50, batch_size=4, layers=3, units=16)
        >>> model.receptive_field, model(np.zeros((4, 7), "int32")).shape
        (8, TensorShape([4, 7, 50]))
    """
    if stateful and not batch_size:
        raise ValueError("A stateful language model needs `batch_size` (the number of parallel streams)")
    embedding_dim = embedding_dim or units
    inputs = keras.Input(batch_shape=(batch_size, None), dtype="int32", name="ids")
    embedding = token_embedding(vocabulary_size, embedding_dim, init_scale)
    x = embedding(inputs)
    if dropout:
        x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    x = DilatedCausalConv(units, layers, kernel_size=kernel_size, dilation_cycle=dilation_cycle, stateful=stateful,
                          kernel_initializer=uniform_initializer(init_scale) or "glorot_uniform",
                          name="convolution")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    logits = output_logits(vocabulary_size, embedding, tie_embeddings, softmax_precision, init_scale)(x)
    return ConvolutionalLanguageModel(inputs, logits, sampled_softmax=sampled_softmax, name=name)
