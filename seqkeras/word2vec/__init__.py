"""word2vec: skip-gram with negative sampling, trained in Keras, evaluated as gensim does.

The application's rooms (`seqkeras.pipeline.registry` hooks):

* `Spec` (`spec.py`): ``[data]`` sources and vocabulary, ``[model]`` SGNS settings,
  ``[training]`` epochs and linear learning-rate decay, ``[evaluation]``, ``[export]``.
* `build_data` (`data.py`): text → vocabulary (min_count) → subsampling → dynamic
  windows → unigram^0.75 negatives, one streaming, seeded tf.data pipeline.
* `build_model` (`model.py`): `SkipGram` — matrices W and C, sparse SGD step.
* `evaluate` (`evaluation.py`): analogy accuracy (3CosAdd/3CosMul, per section),
  WordSim-353 Spearman, `most_similar`, k-means clusters.
* `export` (`export.py`): ``words → vectors, known`` SavedModel.
* `vectors.py`: word2vec text/binary files; `embedding_matrix` initialises another
  application's embedding layer from trained vectors.

The fast path (used by the benchmark and `seqkeras run`'s word2vec pipelines alike) is
`train.train`; `SkipGram.train_step` makes the same step available to `fit`.

Example:
    >>> from seqkeras.pipeline import load_spec, run
    >>> report = run(load_spec("pipelines/word2vec.toml"), data_dir="../shared/data")  # doctest: +SKIP
"""

from __future__ import annotations

import pathlib

import keras
import tensorflow as tf

from seqkeras.word2vec.data import (CorpusStats, SkipGramConfig, build_vocabulary, corpus_lines,
                                    keep_probabilities, negative_distribution, prepare_corpus,
                                    skipgram_batches, window_masks, window_pairs)
from seqkeras.word2vec.evaluation import (WordVectors, cluster_report, evaluate_analogies,
                                          evaluate_word_pairs, kmeans_clusters)
from seqkeras.word2vec.model import SkipGram
from seqkeras.word2vec.spec import DataSpec, EvaluationSpec, ModelSpec, Spec, W2VTrainingSpec
from seqkeras.word2vec.train import TrainReport, linear_learning_rate, train
from seqkeras.word2vec.vectors import embedding_matrix, load_word2vec_format, save_word2vec_format

__all__ = ["CorpusStats", "DataSpec", "EvaluationSpec", "HyperModel", "ModelSpec", "SkipGram",
           "SkipGramConfig", "Spec", "TrainReport", "W2VTrainingSpec", "WordVectors", "build_data",
           "build_model", "build_vocabulary", "callbacks", "cluster_report", "corpus_lines",
           "embedding_matrix", "evaluate", "evaluate_analogies", "evaluate_word_pairs", "export",
           "keep_probabilities", "kmeans_clusters", "linear_learning_rate", "load_word2vec_format",
           "negative_distribution", "prepare_corpus", "save_word2vec_format", "skipgram_batches",
           "train", "window_masks", "window_pairs", "word_vectors"]


def sampling_config(spec: Spec) -> SkipGramConfig:
    m, d = spec.model, spec.data
    return SkipGramConfig(window=m.window, negatives=m.negatives, sample=m.sample, ns_exponent=m.ns_exponent,
                          batch_words=d.batch_words, seed=spec.training.seed)


def build_data(spec: Spec, data_dir=None, vocabulary_path=None):
    """Vocabulary pass over ``data.sources`` and the skip-gram batch pipeline.

    The pipeline's seed mixes in an epoch counter (``info["epoch"]``, a variable set by
    `callbacks`), so every epoch subsamples and draws negatives afresh, reproducibly.
    """
    from seqkeras.data import resolve_data_dir
    from seqkeras.pipeline.data import Data

    data_dir = resolve_data_dir(data_dir)
    lines = corpus_lines(spec.data.sources, data_dir)
    vocab, stats = build_vocabulary(lines, spec.data.min_count, spec.data.max_vocabulary or None,
                                    spec.data.standardize, source=", ".join(spec.data.sources))
    if vocabulary_path is not None:
        vocab.save(vocabulary_path)
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="word2vec_epoch")
    config = sampling_config(spec)
    batches = skipgram_batches(lines, vocab, config, epoch=epoch, standardize_mode=spec.data.standardize)
    info = {"vocabulary_size": len(vocab), "lines": stats.lines, "tokens": stats.tokens, "words": stats.words,
            "distinct": stats.distinct, "data_dir": str(data_dir), "vocabulary": vocab, "stats": stats,
            "lines_dataset": lines, "epoch": epoch}
    return Data(train=batches, validation=None, tokenizer=None, info=info)


class EpochSeed(keras.callbacks.Callback):
    """Sets the pipeline's epoch counter at the start of each epoch (fresh sampling) and
    restarts the model's words/s."""

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)
        self.model.reset_speed()


def callbacks(spec: Spec, data) -> list:
    return [EpochSeed(data.info["epoch"])]


def build_model(spec: Spec, data) -> SkipGram:
    """`SkipGram` sized to the vocabulary, with the linear decay over all epochs set."""
    m, t = spec.model, spec.training
    model = SkipGram(data.info["vocabulary_size"], m.dim, output_vectors=m.output, seed=t.seed,
                     window=m.window, damping=m.damping, jit_compile=m.jit_compile)
    model.configure_schedule(data.info["words"] * t.epochs, t.learning_rate, t.min_learning_rate)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=t.learning_rate), jit_compile=False)
    return model


def word_vectors(model: SkipGram, data) -> WordVectors:
    """The trained vectors of the real words (reserved ids dropped), most frequent first."""
    vocab = data.info["vocabulary"]
    skip = len(vocab.reserved)
    return WordVectors(vocab.tokens[skip:], model.vectors()[skip:])


def evaluate(model: SkipGram, spec: Spec, data) -> dict:
    """Analogy accuracy (total/semantic/syntactic, OOV counted) and WordSim-353 Spearman."""
    e = spec.evaluation
    root = pathlib.Path(data.info["data_dir"])
    wv = word_vectors(model, data)
    out = {}
    if e.analogies:
        result = evaluate_analogies(wv, root / e.analogies, e.restrict_vocab, e.case_insensitive)
        out.update(analogy_accuracy=result.accuracy, analogy_semantic=result.semantic_accuracy,
                   analogy_syntactic=result.syntactic_accuracy, analogy_scored=result.total,
                   analogy_oov=result.oov)
        print(result.report())
        if e.cosmul:
            out["analogy_3cosmul"] = evaluate_analogies(wv, root / e.analogies, e.restrict_vocab,
                                                        e.case_insensitive, method="3CosMul").accuracy
    if e.word_pairs:
        sim = evaluate_word_pairs(wv, root / e.word_pairs, case_insensitive=e.case_insensitive)
        out.update(wordsim_spearman=sim.spearman, wordsim_pearson=sim.pearson, wordsim_oov=sim.oov)
    return out


def export(model: SkipGram, spec: Spec, data, output_dir="saved_models") -> pathlib.Path:
    from seqkeras.pipeline.runner import version_argument
    from seqkeras.word2vec.server import export_vectors

    wv = word_vectors(model, data)
    return export_vectors(wv.words, wv.vectors, output_dir, spec.export.model_name or spec.name,
                          version=version_argument(spec), lowercase=spec.data.standardize != "none")


def after_run(model: SkipGram, spec: Spec, data, report: dict) -> None:
    """Neighbours of a few words, the k-means cluster table, optional vector files."""
    e = spec.evaluation
    wv = word_vectors(model, data)
    for word in ("good", "king", "france", "three"):
        if word in wv:
            print(f"{word}: " + ", ".join(w for w, _ in wv.most_similar(word, topn=8)))
    if e.clusters:
        print(cluster_report(kmeans_clusters(wv, e.cluster_words, e.clusters, seed=spec.training.seed)))
    if e.vectors_text:
        report["vectors_text"] = str(save_word2vec_format(e.vectors_text, wv.words, wv.vectors))
    if e.vectors_binary:
        report["vectors_binary"] = str(save_word2vec_format(e.vectors_binary, wv.words, wv.vectors, binary=True))


def _hypermodel():
    from seqkeras.pipeline.tuning import SpecHyperModel

    class HyperModel(SpecHyperModel):
        """keras-tuner HyperModel over a word2vec spec's ``tuning.space``."""

        def __init__(self, spec, data, name=None, tunable=True):
            import sys
            super().__init__(sys.modules[__name__], spec, data, name=name, tunable=tunable)

    return HyperModel


HyperModel = _hypermodel()
