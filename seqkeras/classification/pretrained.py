"""Pretraining for the classifier's encoder: a trained run of another pipeline
initialises it before it trains.

* ``model.pretrained_language_model``: a `language_model` run (ULMFiT, Howard & Ruder
  2018). It read text only, left to right.
* ``model.pretrained_classifier``: a `classification` run on another labelled corpus
  (supervised transfer, e.g. IMDB reviews → SST sentences; Mou et al. 2016's INIT).

    language model:  ids ─ "embedding" [V_lm, E] ─ "recurrent" (L levels, left to right) ─ logits
    classifier:      ids ─ "encoder" ("embedding" [V, E] ─ "recurrent" (L levels)) ─ pooling ─ softmax

What is copied, before the classifier trains:

* the embedding, row by token: the classifier's row for token w is the source's row
  for w (the two vocabularies number their tokens differently); tokens the source does
  not know keep their fresh initialisation (`PretrainedEncoder.shared_rows`);
* the recurrent stack, level by level: the weights of the source's cell l go into the
  classifier's cell l. From a language model, a bidirectional classifier takes them
  into its forward direction and its backward direction starts fresh; a source
  classifier gives both directions;
* from a source classifier with the same pooling and the same class names in the same
  order (IMDB's and SST's negative/positive), the pooling and softmax too, so the copy
  classifies before it trains; otherwise they start fresh, as after a language model.

Everything trains (`train_embeddings = false` freezes the copied embedding), from the
first epoch or, with ``model.freeze_pretrained_epochs = N``, the pretrained parts from
epoch N + 1 on (`FreezePretrained`: ULMFiT's gradual unfreezing, one step). ULMFiT's
discriminative learning rates are not offered: the shared optimizers have one rate for
every variable.

The classifier's encoder must be built like the source's: the same cell (and options),
layers, units and embedding width (and, from a classifier, direction), else `SpecError`
names both. A deep bidirectional classifier (layers > 1) cannot take a language model's
upper levels: its level l ≥ 1 reads both directions of level l − 1 (2·units wide), the
LM's reads units.

The run is named by its pipeline ``.toml`` (its run directory is
``<work_dir>/<name>/``, beside the classifier's, its tuned values applied) or by the run
directory itself, whose ``report.json`` (written by ``seqkeras run``) holds the spec it
was trained with. Relative names are taken from the current directory, where
``pipelines/`` and ``runs/`` are, not from the data directory. The run is read whenever
the classifier's data is built, by ``seqkeras evaluate`` and ``export`` too (whose
trained weights then replace the copy): keep it while the classifier is in use.

Example:
    >>> encoder = load_pretrained_encoder(LANGUAGE_MODEL_KEY, "pipelines/imdb_language_model.toml")  # doctest: +SKIP
    >>> encoder.architecture                                                                         # doctest: +SKIP
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

# The spec keys that name a source run, and the application each must be a run of.
LANGUAGE_MODEL_KEY = "model.pretrained_language_model"
CLASSIFIER_KEY = "model.pretrained_classifier"
SOURCE_APPLICATIONS = {LANGUAGE_MODEL_KEY: "language_model", CLASSIFIER_KEY: "classification"}


@dataclasses.dataclass(frozen=True)
class Architecture:
    """What must agree between the source run's encoder and the classifier's."""

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
    """The parts of a trained run that initialise a classifier.

    Attributes:
        source: the run directory.
        architecture: its recurrent stack and embedding width.
        tokens: its vocabulary, in id order.
        embeddings: float32[V_src, E], its embedding matrix.
        cells: per level, bottom first, the (forward) cell's weight arrays
            (`keras.Layer.get_weights`).
        lowercase: whether its corpus was lower-cased (the classifier's should be too).
        tokenizer: its ``data.tokenizer`` (the classifier's should match, or fewer words are shared).
        key: the spec key that named it (`LANGUAGE_MODEL_KEY` or `CLASSIFIER_KEY`), for errors.
        backward_cells: a bidirectional source classifier's backward cells, per level; else None.
        bidirectional: the source classifier was bidirectional (False for a language model).
        pooling: the source classifier's ``model.pooling`` and ``attention_units``
            (``("", 0)`` for a language model).
        class_names: the source classifier's class names, in class order ([] for a language model).
        head: the source classifier's weights after the encoder, by layer name
            (``"pooling"`` when it has weights, ``"probabilities"``); None for a language model.
    """

    source: pathlib.Path
    architecture: Architecture
    tokens: list[str]
    embeddings: np.ndarray
    cells: list[list[np.ndarray]]
    lowercase: bool = False
    tokenizer: str = "whitespace"
    key: str = LANGUAGE_MODEL_KEY
    backward_cells: list[list[np.ndarray]] | None = None
    bidirectional: bool = False
    pooling: tuple[str, int] = ("", 0)
    class_names: list[str] = dataclasses.field(default_factory=list)
    head: dict[str, list[np.ndarray]] | None = None

    @property
    def kind(self) -> str:
        """``"language model"`` or ``"classifier"``, for messages."""
        return "classifier" if self.key == CLASSIFIER_KEY else "language model"

    def shared_rows(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The ids of the `tokens` (a classifier vocabulary, id order) the source knows,
        and the source's ids of the same tokens: ``(classifier ids int64[k], source ids int64[k])``."""
        index = {token: i for i, token in enumerate(self.tokens)}
        pairs = [(i, index[token]) for i, token in enumerate(tokens) if token in index]
        ids, source_ids = zip(*pairs) if pairs else ((), ())
        return np.asarray(ids, np.int64), np.asarray(source_ids, np.int64)


def resolve_run(key: str, target: str | os.PathLike, work_dir: str | os.PathLike = "runs", source=None):
    """``model.pretrained_language_model`` or ``model.pretrained_classifier`` → (the spec
    its run was trained with, its `RunPaths`).

    Args:
        key: `LANGUAGE_MODEL_KEY` or `CLASSIFIER_KEY`: which application the run must be of.
        target: that application's pipeline ``.toml`` or a run directory (module doc).
        work_dir: where the ``.toml``'s run directory is (the classifier's work dir).
        source: the classifier spec's file, for the errors.

    Raises:
        SpecError: no such file or directory, a run directory without ``report.json``, a
            pipeline of another application, a character-level or non-recurrent language
            model, or no run directory yet (each names the path).
    """
    from seqkeras.pipeline import registry, runner

    application = SOURCE_APPLICATIONS[key]
    path = pathlib.Path(target).expanduser()
    if path.suffix == ".toml":
        if not path.is_file():
            raise SpecError(source, key, f"no such {application} pipeline file: {path}")
        spec = registry.load_spec(path)
        paths = RunPaths.for_spec(spec, work_dir)
    elif path.is_dir():
        paths = RunPaths(path)
        if not paths.report.is_file():
            raise SpecError(source, key, f"{path} has no {paths.report.name} (written by `seqkeras run`) to say "
                                         f"how its model was built: name the run's pipeline .toml instead")
        recorded = json.loads(paths.report.read_text(encoding="utf-8"))["spec"]
        if recorded.get("application") != application:
            raise SpecError(source, key, f"{path} is a {recorded.get('application')!r} run, not a {application} run")
        spec = parse_spec(registry.get(application).spec_class, recorded, paths.report)
    else:
        raise SpecError(source, key, f"no {application} run directory or pipeline .toml at {path}")
    if spec.application != application:
        raise SpecError(source, key, f"{path} is a {spec.application!r} pipeline, not a {application} one")
    if application == "language_model":
        if spec.data.tokenizer == "character":
            raise SpecError(source, key, f"{path}: data.tokenizer = 'character'; the classifier reads words, so its "
                                         f"language model must be a word-level ('whitespace' or 'treebank') one")
        if spec.model.kind != "rnn":
            raise SpecError(source, key, f"{path}: model.kind = {spec.model.kind!r}; only a recurrent language "
                                         f"model (kind = 'rnn') can initialise the classifier's recurrent encoder")
    if not paths.root.is_dir():
        raise SpecError(source, key, f"no run directory {paths.root} for {path}: train it first "
                                     f"(`seqkeras run {path}`, with the classifier's --work-dir)")
    return runner.apply_best_hyperparameters(spec, paths), paths


def load_pretrained_encoder(key: str, target: str | os.PathLike, work_dir: str | os.PathLike = "runs",
                            source=None) -> PretrainedEncoder:
    """Read a trained run's vocabulary, embedding and cell weights (and a classifier's head).

    The source model is rebuilt from its spec as `seqkeras.pipeline.runner.load_trained`
    does (its ``final.weights.h5``, or the last epoch checkpoint of an interrupted run)
    and dropped once its weights are copied out. Its corpus is not read again.

    Args:
        key, target, work_dir, source: see `resolve_run`.

    Raises:
        SpecError: see `resolve_run`; no vocabulary or no trained weights in the run
            directory, or a source classifier whose number of classes is not recorded
            (each naming the run).
    """
    from seqkeras.pipeline import runner

    spec, paths = resolve_run(key, target, work_dir, source)
    if not paths.vocabulary.is_file():
        raise SpecError(source, key, f"no {paths.vocabulary.name} in {paths.root}: the run was never trained there")
    vocabulary = Vocabulary.load(paths.vocabulary)
    m = spec.model
    architecture = Architecture.of(m.cell, m.cell_options, m.layers, m.units, m.embedding_dim or m.units)
    if key == LANGUAGE_MODEL_KEY:
        # The recurrent LM's builder reads nothing of its data but the vocabulary size.
        data = types.SimpleNamespace(vocabulary_size=len(vocabulary.tokens))
    else:
        class_names = _class_names(spec, paths, key, source)
        # Built bare: its own pretraining (if any) is in the trained weights already.
        data = types.SimpleNamespace(vocabulary_size=len(vocabulary.tokens), num_classes=len(class_names),
                                     embeddings=None, pretrained_encoder=None)
    try:
        model = runner.load_trained(spec, data, paths)
    except FileNotFoundError as error:
        raise SpecError(source, key, str(error)) from None
    except ValueError as error:      # e.g. the embedding width of word2vec vectors it was built with
        raise SpecError(source, key, f"{paths.root}: its weights do not fit the model its spec builds "
                                     f"({error}); set its model.embedding_dim to the width it trained with") from None
    common = dict(tokens=list(vocabulary.tokens), lowercase=spec.data.lowercase, tokenizer=spec.data.tokenizer,
                  key=key)
    if key == LANGUAGE_MODEL_KEY:
        embeddings = np.asarray(model.get_layer("embedding").get_weights()[0], np.float32)
        cells = [_weights(level.cell) for level in model.get_layer("recurrent").levels]
        return PretrainedEncoder(paths.root, architecture, embeddings=embeddings, cells=cells, **common)
    encoder = model.get_layer("encoder")
    levels = encoder.recurrent.levels
    forward = [level.forward_layer.cell if m.bidirectional else level.cell for level in levels]
    head = {layer.name: _weights(layer) for layer in model.layers
            if layer.name in ("pooling", "probabilities") and layer.weights}
    return PretrainedEncoder(
        paths.root, architecture, embeddings=np.asarray(encoder.embedding.get_weights()[0], np.float32),
        cells=[_weights(cell) for cell in forward],
        backward_cells=[_weights(level.backward_layer.cell) for level in levels] if m.bidirectional else None,
        bidirectional=m.bidirectional, pooling=(m.pooling, m.attention_units), class_names=class_names,
        head=head, **common)


def _weights(layer) -> list[np.ndarray]:
    return [np.asarray(w) for w in layer.get_weights()]


def _class_names(spec, paths: RunPaths, key: str, source) -> list[str]:
    """A source classifier's class names, from its spec, or (labels not listed there)
    as many placeholders as its ``report.json`` records classes: such a head is never copied."""
    d = spec.data
    if d.labels:
        return list(d.class_names or d.labels)
    if paths.report.is_file():
        classes = json.loads(paths.report.read_text(encoding="utf-8")).get("data", {}).get("num_classes")
        if classes:
            return [f"?{i}" for i in range(int(classes))]
    raise SpecError(source, key, f"{paths.root}: its spec lists no data.labels and it has no report.json "
                                 f"(written by `seqkeras run`) to say how many classes it has")


def initialise_encoder(model: keras.Model, pretrained: PretrainedEncoder, tokens: list[str], spec,
                       class_names: list[str] = ()) -> bool:
    """Copy `pretrained` into the built classifier (module doc).

    Args:
        model: the classifier (`build_classifier`), built.
        pretrained: the source run's parts.
        tokens: the classifier's vocabulary, id order.
        spec: the classification spec (its ``[model]`` and source, for the errors).
        class_names: the classifier's class names, in class order.

    Returns:
        Whether the source classifier's pooling and softmax were copied too.

    Raises:
        SpecError: the encoder is not built like the source's (both named), or is deep
            and bidirectional while the source is a language model.
    """
    m, key = spec.model, pretrained.key
    mine = Architecture.of(m.cell, m.cell_options, m.layers, m.units, m.embedding_dim)
    if mine != pretrained.architecture:
        raise SpecError(spec.source, key, f"the classifier's encoder ({mine}) must be built like the "
                                          f"{pretrained.kind} of {pretrained.source} ({pretrained.architecture})")
    from_classifier = pretrained.key == CLASSIFIER_KEY
    if from_classifier and m.bidirectional != pretrained.bidirectional:
        raise SpecError(spec.source, key, f"bidirectional = {str(m.bidirectional).lower()}, the classifier of "
                                          f"{pretrained.source} has {str(pretrained.bidirectional).lower()}: "
                                          f"both directions are copied, so they must agree")
    if not from_classifier and m.bidirectional and m.layers > 1:
        raise SpecError(spec.source, key, f"a deep bidirectional encoder (layers={m.layers}) cannot take the "
                                          f"language model's upper levels: its level 2 reads both directions "
                                          f"of level 1; use layers = 1 or bidirectional = false")
    encoder = model.get_layer("encoder")
    matrix = encoder.embedding.get_weights()[0]
    ids, source_ids = pretrained.shared_rows(tokens)
    matrix[ids] = pretrained.embeddings[source_ids]
    encoder.embedding.set_weights([matrix])
    for depth, level in enumerate(encoder.recurrent.levels):
        pairs = [(level.forward_layer.cell if m.bidirectional else level.cell, pretrained.cells[depth])]
        if pretrained.backward_cells is not None:
            pairs.append((level.backward_layer.cell, pretrained.backward_cells[depth]))
        for cell, weights in pairs:
            shapes, expected = [tuple(w.shape) for w in cell.weights], [tuple(w.shape) for w in weights]
            if shapes != expected:
                raise SpecError(spec.source, key, f"level {depth}: the classifier's cell has weights of shapes "
                                                  f"{shapes}, the {pretrained.kind}'s {expected} ({mine})")
            cell.set_weights(weights)
    same_head = (pretrained.head is not None and pretrained.pooling == (m.pooling, m.attention_units)
                 and list(pretrained.class_names) == list(class_names))
    if same_head:
        for name, weights in pretrained.head.items():
            model.get_layer(name).set_weights(weights)
    return same_head


class FreezePretrained(keras.callbacks.Callback):
    """ULMFiT's gradual unfreezing, coarsely (``model.freeze_pretrained_epochs``): for
    the first `epochs` epochs only what starts fresh trains (pooling, softmax, and after
    a language model a bidirectional encoder's backward direction), so that the fresh head's first,
    large gradients do not wash out the pretrained weights; from then on the
    pretrained embedding and cells train too. After training every layer is as built.

    The optimizer is built over every variable before the first step, so that it
    holds slots for the frozen ones when they join (and the weights file always holds
    the same variables); each change of the trainable set retraces the train step
    (`keras.Model.make_train_function` with ``force=True``, as Keras documents).

    Args:
        epochs: the epochs the pretrained parts stay frozen.
        pretrained: what was pretrained: ``"embedding"`` (word vectors), ``"forward"``
            (a language model: the embedding and the cells of the forward direction) or
            ``"encoder"`` (a source classifier: the embedding and every cell).
    """

    PRETRAINED = ("embedding", "forward", "encoder")

    def __init__(self, epochs: int, pretrained: str):
        super().__init__()
        if pretrained not in self.PRETRAINED:
            raise ValueError(f"Argument `pretrained` must be one of {self.PRETRAINED}, received {pretrained!r}")
        self.epochs, self.pretrained = int(epochs), pretrained
        self._parts = []

    def on_train_begin(self, logs=None):
        encoder = self.model.get_layer("encoder")
        parts = [encoder.embedding]
        if self.pretrained == "forward":
            parts += [level.forward_layer if encoder.bidirectional else level for level in encoder.recurrent.levels]
        elif self.pretrained == "encoder":
            parts += list(encoder.recurrent.levels)
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
