"""Language-model pretraining (ULMFiT, Howard & Ruder 2018): a trained `language_model`
run initialises the classifier's encoder (``model.pretrained_language_model``).

    language model:  ids ─ "embedding" [V_lm, E] ─ "recurrent" (L levels, left to right) ─ logits
    classifier:      ids ─ "encoder" ("embedding" [V, E] ─ "recurrent" (L levels)) ─ pooling ─ softmax

What is copied, before the classifier trains:

* the embedding, row by token: the classifier's row for token w is the LM's row for
  w (the two vocabularies number their tokens differently); tokens the LM does not
  know keep their fresh initialisation (`PretrainedEncoder.shared_rows`);
* the recurrent stack, level by level: the weights of the LM's cell l go into the
  classifier's cell l. A bidirectional classifier takes them into its forward
  direction; its backward direction starts fresh (the LM read left to right only).

Everything after the encoder (pooling, softmax) starts fresh, and everything trains
(`train_embeddings = false` freezes the copied embedding), from the first epoch or, with
``model.freeze_pretrained_epochs = N``, the pretrained parts from epoch N + 1 on
(`FreezePretrained`: ULMFiT's gradual unfreezing, one step). ULMFiT's discriminative
learning rates are not offered: the shared optimizers have one rate for every variable.

The classifier's encoder must be built like the LM's: the same cell (and options),
layers, units and embedding width, else `SpecError` names both. A deep bidirectional
classifier (layers > 1) cannot take the LM's upper levels: its level l ≥ 1 reads both
directions of level l − 1 (2·units wide), the LM's reads units.

The run is named by its pipeline ``.toml`` (its run directory is
``<work_dir>/<name>/``, beside the classifier's, its tuned values applied) or by the run
directory itself, whose ``report.json`` (written by ``seqkeras run``) holds the spec it
was trained with. Relative names are taken from the current directory, where
``pipelines/`` and ``runs/`` are, not from the data directory. The run is read whenever
the classifier's data is built, by ``seqkeras evaluate`` and ``export`` too (whose
trained weights then replace the copy): keep it while the classifier is in use.

Example:
    >>> encoder = load_language_model_encoder("pipelines/imdb_language_model.toml")  # doctest: +SKIP
    >>> encoder.architecture                                                        # doctest: +SKIP
    Architecture(cell='lstm', cell_options={}, layers=1, units=128, embedding_dim=128)
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import types

import keras
import numpy as np

from seqkeras.data.vocabulary import Vocabulary
from seqkeras.encoders import split_cell_name
from seqkeras.pipeline.run_paths import RunPaths
from seqkeras.pipeline.spec import SpecError, parse_spec

# The spec key, named in every error.
KEY = "model.pretrained_language_model"


@dataclasses.dataclass(frozen=True)
class Architecture:
    """What must agree between the language model and the classifier's encoder."""

    cell: str                          # registry name, the LSTM variant moved into `cell_options`
    cell_options: dict
    layers: int
    units: int
    embedding_dim: int

    @classmethod
    def of(cls, cell: str, cell_options: dict, layers: int, units: int, embedding_dim: int) -> "Architecture":
        """``"lstm:cifg"`` and ``("lstm", {"variant": "cifg"})`` give the same architecture."""
        cell, options = split_cell_name(cell, cell_options)
        return cls(cell, options, int(layers), int(units), int(embedding_dim))

    def __str__(self) -> str:
        options = f" {self.cell_options}" if self.cell_options else ""
        return (f"cell={self.cell!r}{options}, layers={self.layers}, units={self.units}, "
                f"embedding_dim={self.embedding_dim}")


@dataclasses.dataclass
class PretrainedEncoder:
    """The parts of a trained language model that initialise a classifier's encoder.

    Attributes:
        source: the LM's run directory.
        architecture: its recurrent stack and embedding width.
        tokens: its vocabulary, in id order.
        embeddings: float32[V_lm, E], its embedding matrix.
        cells: per level, bottom first, the cell's weight arrays (`keras.Layer.get_weights`).
        lowercase: whether its corpus was lower-cased (the classifier's should be too).
        tokenizer: its ``data.tokenizer`` (the classifier's should match, or fewer words are shared).
    """

    source: pathlib.Path
    architecture: Architecture
    tokens: list[str]
    embeddings: np.ndarray
    cells: list[list[np.ndarray]]
    lowercase: bool = False
    tokenizer: str = "whitespace"

    def shared_rows(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The ids of the `tokens` (a classifier vocabulary, id order) the LM knows, and
        the LM's ids of the same tokens: ``(classifier ids int64[k], LM ids int64[k])``."""
        index = {token: i for i, token in enumerate(self.tokens)}
        pairs = [(i, index[token]) for i, token in enumerate(tokens) if token in index]
        ids, lm_ids = zip(*pairs) if pairs else ((), ())
        return np.asarray(ids, np.int64), np.asarray(lm_ids, np.int64)


def resolve_run(target: str | os.PathLike, work_dir: str | os.PathLike = "runs", source=None):
    """``model.pretrained_language_model`` → (the LM spec it was trained with, its `RunPaths`).

    Args:
        target: a language-model pipeline ``.toml`` or a run directory (module doc).
        work_dir: where the ``.toml``'s run directory is (the classifier's work dir).
        source: the classifier spec's file, for the errors.

    Raises:
        SpecError: no such file or directory, a run directory without ``report.json``, a
            pipeline of another application, a character-level or non-recurrent language
            model, or no run directory yet (each names the path).
    """
    from seqkeras.pipeline import registry, runner

    path = pathlib.Path(target).expanduser()
    if path.suffix == ".toml":
        if not path.is_file():
            raise SpecError(source, KEY, f"no such language-model pipeline file: {path}")
        spec = registry.load_spec(path)
        paths = RunPaths.for_spec(spec, work_dir)
    elif path.is_dir():
        paths = RunPaths(path)
        if not paths.report.is_file():
            raise SpecError(source, KEY, f"{path} has no {paths.report.name} (written by `seqkeras run`) to say "
                                         f"how its model was built: name the run's pipeline .toml instead")
        recorded = json.loads(paths.report.read_text(encoding="utf-8"))["spec"]
        if recorded.get("application") != "language_model":
            raise SpecError(source, KEY, f"{path} is a {recorded.get('application')!r} run, not a language_model run")
        spec = parse_spec(registry.get("language_model").spec_class, recorded, paths.report)
    else:
        raise SpecError(source, KEY, f"no language-model run directory or pipeline .toml at {path}")
    if spec.application != "language_model":
        raise SpecError(source, KEY, f"{path} is a {spec.application!r} pipeline, not a language_model one")
    if spec.data.tokenizer == "character":
        raise SpecError(source, KEY, f"{path}: data.tokenizer = 'character'; the classifier reads words, so its "
                                     f"language model must be a word-level ('whitespace' or 'treebank') one")
    if spec.model.kind != "rnn":
        raise SpecError(source, KEY, f"{path}: model.kind = {spec.model.kind!r}; only a recurrent language model "
                                     f"(kind = 'rnn') can initialise the classifier's recurrent encoder")
    if not paths.root.is_dir():
        raise SpecError(source, KEY, f"no run directory {paths.root} for {path}: train the language model first "
                                     f"(`seqkeras run {path}`, with the classifier's --work-dir)")
    return runner.apply_best_hyperparameters(spec, paths), paths


def load_language_model_encoder(target: str | os.PathLike, work_dir: str | os.PathLike = "runs",
                                source=None) -> PretrainedEncoder:
    """Read a trained language model's vocabulary, embedding and cell weights.

    The LM is rebuilt from its spec as `seqkeras.pipeline.runner.load_trained` does
    (its ``final.weights.h5``, or the last epoch checkpoint of an interrupted run) and
    dropped once its weights are copied out.

    Args:
        target, work_dir, source: see `resolve_run`.

    Raises:
        SpecError: see `resolve_run`; no vocabulary or no trained weights in the run
            directory (naming it).
    """
    from seqkeras.pipeline import runner

    spec, paths = resolve_run(target, work_dir, source)
    if not paths.vocabulary.is_file():
        raise SpecError(source, KEY, f"no {paths.vocabulary.name} in {paths.root}: the language model was never "
                                     f"trained there")
    vocabulary = Vocabulary.load(paths.vocabulary)
    # The recurrent LM's builder reads nothing of its data but the vocabulary size: the
    # corpus is not read again.
    data = types.SimpleNamespace(vocabulary_size=len(vocabulary.tokens))
    try:
        model = runner.load_trained(spec, data, paths)
    except FileNotFoundError as error:
        raise SpecError(source, KEY, str(error)) from None
    embeddings = np.asarray(model.get_layer("embedding").get_weights()[0], np.float32)
    cells = [[np.asarray(w) for w in level.cell.get_weights()] for level in model.get_layer("recurrent").levels]
    m = spec.model
    architecture = Architecture.of(m.cell, m.cell_options, m.layers, m.units, m.embedding_dim or m.units)
    return PretrainedEncoder(paths.root, architecture, list(vocabulary.tokens), embeddings, cells,
                             lowercase=spec.data.lowercase, tokenizer=spec.data.tokenizer)


def initialise_encoder(model: keras.Model, pretrained: PretrainedEncoder, tokens: list[str], spec) -> None:
    """Copy `pretrained` into the built classifier's ``"encoder"`` (module doc).

    Args:
        model: the classifier (`build_classifier`), built.
        pretrained: the language model's parts.
        tokens: the classifier's vocabulary, id order.
        spec: the classification spec (its ``[model]`` and source, for the errors).

    Raises:
        SpecError: the encoder is not built like the language model (both named), or is
            deep and bidirectional.
    """
    m = spec.model
    mine = Architecture.of(m.cell, m.cell_options, m.layers, m.units, m.embedding_dim)
    if mine != pretrained.architecture:
        raise SpecError(spec.source, KEY, f"the classifier's encoder ({mine}) must be built like the language "
                                          f"model of {pretrained.source} ({pretrained.architecture})")
    if m.bidirectional and m.layers > 1:
        raise SpecError(spec.source, KEY, f"a deep bidirectional encoder (layers={m.layers}) cannot take the "
                                          f"language model's upper levels: its level 2 reads both directions "
                                          f"of level 1; use layers = 1 or bidirectional = false")
    encoder = model.get_layer("encoder")
    matrix = encoder.embedding.get_weights()[0]
    ids, lm_ids = pretrained.shared_rows(tokens)
    matrix[ids] = pretrained.embeddings[lm_ids]
    encoder.embedding.set_weights([matrix])
    for depth, (level, weights) in enumerate(zip(encoder.recurrent.levels, pretrained.cells)):
        cell = level.forward_layer.cell if m.bidirectional else level.cell
        shapes = [tuple(w.shape) for w in cell.weights]
        expected = [tuple(w.shape) for w in weights]
        if shapes != expected:
            raise SpecError(spec.source, KEY, f"level {depth}: the classifier's cell has weights of shapes {shapes}, "
                                              f"the language model's {expected} ({mine})")
        cell.set_weights(weights)


class FreezePretrained(keras.callbacks.Callback):
    """ULMFiT's gradual unfreezing, coarsely (``model.freeze_pretrained_epochs``): for
    the first `epochs` epochs only what starts fresh trains (pooling, softmax, and a
    bidirectional encoder's backward direction), so that the fresh head's first,
    large gradients do not wash out the pretrained weights; from then on the
    pretrained embedding and cells train too. After training every layer is as built.

    The optimizer is built over every variable before the first step, so that it
    holds slots for the frozen ones when they join (and the weights file always holds
    the same variables); each change of the trainable set retraces the train step
    (`keras.Model.make_train_function` with ``force=True``, as Keras documents).

    Args:
        epochs: the epochs the pretrained parts stay frozen.
        cells: the cells are pretrained too (a language model), not only the embedding
            (word vectors). Of a bidirectional encoder, the forward direction's.
    """

    def __init__(self, epochs: int, cells: bool):
        super().__init__()
        self.epochs, self.cells = int(epochs), bool(cells)
        self._parts = []

    def on_train_begin(self, logs=None):
        encoder = self.model.get_layer("encoder")
        parts = [encoder.embedding]
        if self.cells:
            parts += [level.forward_layer if encoder.bidirectional else level for level in encoder.recurrent.levels]
        self._parts = [part for part in parts if part.trainable]   # a frozen embedding stays frozen
        if not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)

    def on_epoch_begin(self, epoch, logs=None):
        self._freeze(epoch < self.epochs)

    def on_train_end(self, logs=None):
        self._freeze(False)

    def _freeze(self, frozen: bool) -> None:
        changed = [part for part in self._parts if part.trainable == frozen]
        for part in changed:
            part.trainable = not frozen
        if changed:
            self.model.make_train_function(force=True)
