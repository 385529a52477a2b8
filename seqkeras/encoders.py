"""Text encoders shared by the applications: token ids → embedding → recurrent stack.

    ids int[B, T] (0 = padding) ─ "embedding" (mask_zero) ─ Dropout ─ "recurrent"
    (`seqkeras.layers.StackedRecurrent`, any cell, optionally deep-bidirectional)
      ├─ return_sequences=True  → float32[B, T, F]   (mask passed on: ids != 0)
      └─ return_sequences=False → float32[B, F]      (final state: the last valid step of
                                                      the forward direction ⊕ the first
                                                      step of the backward one)

F = units, or 2·units for a bidirectional stack with ``merge_mode="concat"``.

`build_text_encoder` returns a `TextEncoder` layer: drop it into a Functional or
Sequential model; it is serializable (``get_config``/``from_config``, ``.keras``) and
exposes its pieces as ``encoder.embedding`` (`keras.layers.Embedding`) and
``encoder.recurrent`` (`StackedRecurrent`; ``.levels[i]`` and ``.cells``) for export
code that rebuilds the computation step by step. Used by sentence classification
(`seqkeras.classification`) and tagging (`seqkeras.tagging`).

Pretrained embeddings (e.g. word2vec vectors): pass ``embeddings=`` a
``float[vocab_size, embedding_dim]`` matrix (rows in vocabulary-id order); it becomes
the embedding's initial value (``train_embeddings=False`` freezes it).
`load_word_vectors` builds that matrix from a word2vec text file.

`make_cell` builds one cell by registry name (``"lstm"``, ``"gru"``, ``"ran"``,
``"elman"``, ``"additive"``; ``"lstm:cifg"`` picks an LSTM variant).

Example:
    >>> encoder = build_text_encoder(1000, 32, cell="gru", layers=2, units=16)
    >>> encoder(np.array([[5, 6, 0], [7, 0, 0]])).shape
    TensorShape([2, 32])
    >>> build_text_encoder(1000, 32, units=16, return_sequences=True)(
    ...     np.array([[5, 6, 0]])).shape
    TensorShape([1, 3, 32])
"""

from __future__ import annotations

import gzip
import os

import keras
import numpy as np
from keras import ops

from seqkeras.cells import CELLS
from seqkeras.layers import StackedRecurrent


def split_cell_name(cell: str, options: dict | None = None) -> tuple[str, dict]:
    """``"lstm:cifg"`` → ``("lstm", {**options, "variant": "cifg"})``; other names unchanged."""
    options = dict(options or {})
    if ":" in cell:
        cell, variant = cell.split(":", 1)
        options["variant"] = variant
    return cell, options


def make_cell(cell: str, units: int, options: dict | None = None, init_scale: float = 0.0):
    """A seqkeras cell by registry name (``seqkeras.cells.CELLS``) with its options.

    Args:
        cell: ``"lstm"``, ``"gru"``, ``"ran"``, ``"elman"``, ``"additive"``, or
            ``"lstm:<variant>"`` (a Greff et al. variant, e.g. ``"lstm:cifg"``).
        units: the state size.
        options: constructor keyword arguments of the cell.
        init_scale: > 0 initialises the kernels uniform(−s, s) (Zaremba et al.).
    """
    cell, options = split_cell_name(cell, options)
    if cell not in CELLS:
        raise ValueError(f"Argument `cell` must be one of {sorted(CELLS)}, received cell={cell!r}")
    if init_scale > 0:
        uniform = lambda: keras.initializers.RandomUniform(-init_scale, init_scale)  # noqa: E731
        options.setdefault("kernel_initializer", uniform())
        if cell != "additive":
            options.setdefault("recurrent_initializer", uniform())
    return CELLS[cell](units, **options)


def load_word_vectors(path: str | os.PathLike, vocabulary, scale: float = 0.05,
                      seed: int = 0) -> tuple[np.ndarray, int]:
    """An embedding matrix for `vocabulary` from a word2vec text file (``.gz`` too).

    Format: optional header ``<count> <dim>``, then ``word v_1 ... v_dim`` per line
    (word2vec's ``-binary 0`` output, gensim's ``save_word2vec_format``). Rows of
    words absent from the file are uniform(−scale, scale); the padding row (id 0) is 0.

    Args:
        path: the vectors file.
        vocabulary: a `seqkeras.data.Vocabulary` (``.tokens`` in id order).

    Returns:
        ``(matrix float32[len(vocabulary), dim], number of vocabulary words found)``.

    Raises:
        ValueError: a line whose vector width differs from the first one (file and line named).
    """
    index = {token: i for i, token in enumerate(vocabulary.tokens)}
    rows: dict[int, np.ndarray] = {}
    dim = None
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as stream:
        for number, line in enumerate(stream, 1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue
            if len(parts) < 2:
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) - 1 != dim:
                raise ValueError(f"{path}:{number}: vector of width {len(parts) - 1}, expected {dim}")
            i = index.get(parts[0])
            if i is not None and i not in rows:
                rows[i] = np.asarray(parts[1:], "float32")
    if dim is None:
        raise ValueError(f"{path}: no word vectors")
    matrix = np.random.default_rng(seed).uniform(-scale, scale, (len(vocabulary.tokens), dim)).astype("float32")
    for i, vector in rows.items():
        matrix[i] = vector
    matrix[0] = 0.0
    return matrix, len(rows)


@keras.saving.register_keras_serializable(package="seqkeras")
class TextEncoder(keras.layers.Layer):
    """Embedding (mask-zero) → dropout → (bi)directional deep recurrent stack.

    Args:
        vocab_size: V, rows of the embedding (id 0 is padding and is masked).
        embedding_dim: E.
        cell: cell name for `make_cell` (``"lstm"``, ``"gru"``, ``"lstm:cifg"``, ...).
        cell_options: keyword arguments of every cell.
        layers: depth L of the stack.
        units: state size of every cell.
        bidirectional: deep bidirectional stack (Irsoy & Cardie): every level reads
            both directions of the level below.
        merge_mode: ``"concat"``, ``"sum"``, ``"mul"`` or ``"ave"``.
        residual: residual connections between levels of equal width.
        dropout: dropout on the embedding outputs (a new mask per step).
        layer_dropout: variational dropout on every level's input (one mask per sequence).
        recurrent_dropout: variational dropout on h_{t-1}.
        return_sequences: return ``[B, T, F]`` (masked) instead of the final state ``[B, F]``.
        embeddings: optional pretrained ``float[V, E]`` initial embedding matrix.
        train_embeddings: whether the embedding is trainable.
        embeddings_initializer: initializer when no `embeddings` are given.
        jit_compile: passed to the recurrent layers (True, False, "auto").

    Call args:
        ids: int ``[B, T]``, right-padded with 0.

    Returns:
        float32 ``[B, T, F]`` (with mask ``ids != 0``) or ``[B, F]``.
    """

    def __init__(self, vocab_size, embedding_dim=128, cell="lstm", cell_options=None, layers=1, units=128,
                 bidirectional=True, merge_mode="concat", residual=False, dropout=0.0, layer_dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, embeddings=None, train_embeddings=True,
                 embeddings_initializer="uniform", jit_compile="auto", **kwargs):
        super().__init__(**kwargs)
        for name, value in (("vocab_size", vocab_size), ("embedding_dim", embedding_dim),
                            ("layers", layers), ("units", units)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Argument `{name}` must be a positive integer, received {name}={value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Argument `dropout` must be in [0, 1), received dropout={dropout!r}")
        self.vocab_size = int(vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.cell = cell
        self.cell_options = dict(cell_options or {})
        self.num_layers = int(layers)
        self.units = int(units)
        self.bidirectional = bool(bidirectional)
        self.merge_mode = merge_mode
        self.residual = bool(residual)
        self.dropout = float(dropout)
        self.layer_dropout = float(layer_dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.return_sequences = bool(return_sequences)
        self.train_embeddings = bool(train_embeddings)
        self.jit_compile = jit_compile
        if embeddings is not None:
            embeddings = np.asarray(embeddings, "float32")
            if embeddings.shape != (self.vocab_size, self.embedding_dim):
                raise ValueError(f"Argument `embeddings` must have shape (vocab_size, embedding_dim) = "
                                 f"{(self.vocab_size, self.embedding_dim)}, received {embeddings.shape}")
            initializer = keras.initializers.Constant(embeddings)
            self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        else:
            initializer = self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.embedding = keras.layers.Embedding(self.vocab_size, self.embedding_dim, mask_zero=True,
                                                embeddings_initializer=initializer,
                                                trainable=self.train_embeddings, name="embedding")
        self.embedding_dropout = keras.layers.Dropout(self.dropout, name="embedding_dropout")
        cells = [make_cell(cell, self.units, self.cell_options) for _ in range(self.num_layers)]
        self.recurrent = StackedRecurrent(cells, bidirectional=self.bidirectional, merge_mode=merge_mode,
                                          residual=self.residual, return_sequences=self.return_sequences,
                                          dropout=self.layer_dropout, recurrent_dropout=self.recurrent_dropout,
                                          jit_compile=jit_compile, name="recurrent")
        self.supports_masking = True

    @property
    def output_dim(self) -> int:
        """F: the width of the encoder's outputs."""
        return 2 * self.units if self.bidirectional and self.merge_mode == "concat" else self.units

    def build(self, ids_shape):
        self.embedding.build(ids_shape)
        self.recurrent.build(tuple(ids_shape) + (self.embedding_dim,))
        self.built = True

    def call(self, ids, training=False):
        mask = ops.not_equal(ids, 0)
        x = self.embedding(ids)
        x = self.embedding_dropout(x, training=training)
        return self.recurrent(x, mask=mask, training=training)

    def compute_mask(self, ids, mask=None):
        return ops.not_equal(ids, 0) if self.return_sequences else None

    def compute_output_shape(self, ids_shape):
        batch, steps = ids_shape[0], ids_shape[1]
        return (batch, steps, self.output_dim) if self.return_sequences else (batch, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim, "cell": self.cell,
            "cell_options": dict(self.cell_options), "layers": self.num_layers, "units": self.units,
            "bidirectional": self.bidirectional, "merge_mode": self.merge_mode, "residual": self.residual,
            "dropout": self.dropout, "layer_dropout": self.layer_dropout,
            "recurrent_dropout": self.recurrent_dropout, "return_sequences": self.return_sequences,
            "train_embeddings": self.train_embeddings,
            # Pretrained `embeddings` are weights: saved with the weights, not the config.
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            "jit_compile": self.jit_compile,
        })
        return config


def build_text_encoder(vocab_size: int, embedding_dim: int = 128, cell: str = "lstm",
                       cell_options: dict | None = None, layers: int = 1, units: int = 128,
                       bidirectional: bool = True, dropout: float = 0.0, layer_dropout: float = 0.0,
                       recurrent_dropout: float = 0.0, merge_mode: str = "concat", residual: bool = False,
                       embeddings=None, train_embeddings: bool = True, jit_compile="auto",
                       return_sequences: bool = False, name: str = "encoder") -> TextEncoder:
    """The shared text encoder: a `TextEncoder` layer (see its Args).

    ``return_sequences=True`` gives ``[B, T, F]`` with the padding mask (taggers,
    pooling / attention classifiers); False the final state ``[B, F]`` (acceptors).
    """
    return TextEncoder(vocab_size, embedding_dim=embedding_dim, cell=cell, cell_options=cell_options,
                       layers=layers, units=units, bidirectional=bidirectional, merge_mode=merge_mode,
                       residual=residual, dropout=dropout, layer_dropout=layer_dropout,
                       recurrent_dropout=recurrent_dropout, return_sequences=return_sequences,
                       embeddings=embeddings, train_embeddings=train_embeddings, jit_compile=jit_compile,
                       name=name)
