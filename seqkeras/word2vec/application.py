"""The word2vec application: the `Application` hooks over `data`, `model`, `evaluation`
and `server`, with its typed `Word2VecData`.

Example:
    >>> from seqkeras.pipeline import load_spec, runner
    >>> report = runner.run(load_spec("pipelines/word2vec.toml"), data_dir="../shared/data")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import dataclasses
import io
import pathlib

import keras
import tensorflow as tf

from seqkeras.data import Vocabulary, resolve_data_dir
from seqkeras.data.validation import open_binary
from seqkeras.pipeline.application import Application
from seqkeras.pipeline.data import Data
from seqkeras.pipeline.run_paths import VOCABULARY_FILE
from seqkeras.pipeline.spec import with_overrides
from seqkeras.pipeline.tuning import SpecHyperModel
from seqkeras.word2vec.bias import analogy_probe, probe_table, weat_table, weat_tests
from seqkeras.word2vec.data import SkipGramConfig, build_vocabulary, corpus_lines, skipgram_batches
from seqkeras.word2vec.evaluation import (WordVectors, cluster_report, evaluate_analogies, evaluate_word_pairs,
                                          kmeans_clusters)
from seqkeras.word2vec.model import SkipGram
from seqkeras.word2vec.server import WordVectorLookup
from seqkeras.word2vec.spec import Spec
from seqkeras.word2vec.vectors import save_word2vec_format

# CSV columns `starter` takes as the text of a ``path#column`` source, in this order.
TEXT_COLUMNS = ("text", "sentence", "review", "content", "body")


@dataclasses.dataclass(kw_only=True)
class Word2VecData(Data):
    """The skip-gram batches and what the counting pass found.

    Attributes:
        vocabulary: the words kept by min_count, most frequent first (``<pad>``,
            ``<unk>`` at ids 0 and 1).
        lines_dataset: the corpus as ``string[]`` lines (re-read every epoch).
        epoch: int64 variable mixed into the sampling seed (set by `EpochSeed`).
        vocabulary_size: V, reserved ids included.
        lines, tokens: lines and tokens of the corpus.
        words: tokens kept by min_count (the raw words of one epoch).
        distinct: distinct tokens before min_count.
        data_dir: the data directory the sources and evaluation files are read from.
    """

    vocabulary: Vocabulary
    lines_dataset: tf.data.Dataset
    epoch: tf.Variable
    vocabulary_size: int
    lines: int
    tokens: int
    words: int
    distinct: int
    data_dir: str


def sampling_config(spec: Spec) -> SkipGramConfig:
    """The batch pipeline's sampling options of `spec`."""
    m, d = spec.model, spec.data
    return SkipGramConfig(window=m.window, negatives=m.negatives, sample=m.sample, ns_exponent=m.ns_exponent,
                          batch_words=d.batch_words, seed=spec.training.seed)


def training_batches(spec: Spec, lines: tf.data.Dataset, vocabulary: Vocabulary,
                     epoch: tf.Variable) -> tf.data.Dataset:
    """The skip-gram batches of `spec`'s sampling options (`data.skipgram_batches`).

    Args:
        spec: the word2vec spec (sampling options, standardization).
        lines: the corpus, ``string[]`` lines.
        vocabulary: from `build_vocabulary` on `lines`.
        epoch: the int64 epoch counter mixed into the sampling seed.
    """
    return skipgram_batches(lines, vocabulary, sampling_config(spec), epoch=epoch,
                            standardize_mode=spec.data.standardize)


def word_vectors(model: SkipGram, data: Word2VecData) -> WordVectors:
    """The trained vectors of the real words (reserved ids dropped), most frequent first."""
    skip = len(data.vocabulary.reserved)
    return WordVectors(data.vocabulary.tokens[skip:], model.vectors()[skip:])


class EpochSeed(keras.callbacks.Callback):
    """Sets the pipeline's epoch counter at the start of each epoch (fresh sampling) and
    restarts the model's words/s.

    Args:
        variable: `Word2VecData.epoch`.
    """

    def __init__(self, variable: tf.Variable):
        super().__init__()
        self.variable = variable

    def __deepcopy__(self, memo):  # keras-tuner deep-copies callbacks; share the variable
        return EpochSeed(self.variable)

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)
        self.model.reset_speed()


class Word2VecHyperModel(SpecHyperModel):
    """`SpecHyperModel` whose trials train on batches sampled with the trial's own
    window, negatives and subsampling (the shared search passes the base spec's)."""

    def fit(self, hp, model, *args, **kwargs):
        kwargs.pop("x", None)
        trial = with_overrides(self.spec, self.values(hp))
        batches = training_batches(trial, self.data.lines_dataset, self.data.vocabulary, self.data.epoch)
        return model.fit(batches, *args[1:], **kwargs)


class Word2VecApplication(Application):
    """Skip-gram with negative sampling: corpus → SkipGram → analogies / WordSim → vectors."""

    name = "word2vec"
    spec_class = Spec
    headline_metric = "analogy_accuracy"

    def build_data(self, spec: Spec, data_dir, run_dir) -> Word2VecData:
        """Vocabulary pass over ``data.sources`` and the skip-gram batch pipeline.

        The pipeline's seed mixes in an epoch counter (`Word2VecData.epoch`, set by the
        `callbacks`), so every epoch subsamples and draws negatives afresh, reproducibly.
        The vocabulary is saved as ``run_dir / "vocabulary.txt"``.
        """
        data_dir = resolve_data_dir(data_dir)
        lines = corpus_lines(spec.data.sources, data_dir)
        vocab, stats = build_vocabulary(lines, spec.data.min_count, spec.data.max_vocabulary or None,
                                        spec.data.standardize, source=", ".join(spec.data.sources))
        if run_dir is not None:
            vocab.save(pathlib.Path(run_dir) / VOCABULARY_FILE)
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="word2vec_epoch")
        return Word2VecData(train=training_batches(spec, lines, vocab, epoch), vocabulary=vocab,
                            lines_dataset=lines, epoch=epoch, vocabulary_size=len(vocab), lines=stats.lines,
                            tokens=stats.tokens, words=stats.words, distinct=stats.distinct,
                            data_dir=str(data_dir))

    def build_model(self, spec: Spec, data: Word2VecData) -> SkipGram:
        """`SkipGram` sized to the vocabulary, with the linear decay over all epochs set."""
        m, t = spec.model, spec.training
        model = SkipGram(data.vocabulary_size, m.dim, output_vectors=m.output, seed=t.seed,
                         window=m.window, damping=m.damping, jit_compile=m.jit_compile)
        model.configure_schedule(data.words * t.epochs, t.learning_rate, t.min_learning_rate)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=t.learning_rate), jit_compile=False)
        return model

    def hypermodel(self, spec: Spec, data: Word2VecData) -> Word2VecHyperModel:
        return Word2VecHyperModel(self, spec, data)

    def callbacks(self, spec: Spec, data: Word2VecData) -> list[keras.callbacks.Callback]:
        return [EpochSeed(data.epoch)]

    def evaluate(self, spec: Spec, model: SkipGram, data: Word2VecData) -> dict[str, float]:
        """Analogy accuracy (total/semantic/syntactic, OOV counted), WordSim-353 Spearman and,
        with ``evaluation.weat``, each WEAT test's effect size and p-value (the tables and
        the he:she analogy probe printed; `seqkeras.word2vec.bias`)."""
        e = spec.evaluation
        root = pathlib.Path(data.data_dir)
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
        if e.weat:
            results = weat_tests(wv, min_words=e.weat_min_words, seed=spec.training.seed)
            print(weat_table(results) + "\n\n" + probe_table(analogy_probe(wv)))
            for r in results:
                if not r.skipped:
                    out.update({f"{r.id}_effect_size": r.effect_size, f"{r.id}_p_value": r.p_value})
            out["weat_skipped"] = sum(bool(r.skipped) for r in results)
        return out

    def exporter(self, spec: Spec, model: SkipGram, data: Word2VecData) -> WordVectorLookup:
        wv = word_vectors(model, data)
        return WordVectorLookup(wv.words, wv.vectors, lowercase=spec.data.standardize != "none")

    def after_run(self, spec: Spec, model: SkipGram, data: Word2VecData, report: dict) -> None:
        """The headline metric, neighbours of a few words, the k-means cluster table,
        optional vector files."""
        super().after_run(spec, model, data, report)
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
            report["vectors_binary"] = str(save_word2vec_format(e.vectors_binary, wv.words, wv.vectors,
                                                                binary=True))

    def starter(self, data_files: list[str]) -> dict:
        """``data.sources``: the files; a CSV file (``.csv``, ``.csv.gz``) is read from its
        text column (``path#column``, one of `TEXT_COLUMNS`)."""
        return {"data.sources": [_source(file) for file in data_files]}


def _source(file: str) -> str:
    """A ``data.sources`` entry for `file`; ValueError when it holds no text."""
    with open_binary(file) as stream:
        head = stream.read(1 << 16)
    if not head.strip():
        raise ValueError(f"{file}: empty file, word2vec needs text (one sentence or document per line)")
    if b"\0" in head:
        raise ValueError(f"{file}: binary data, word2vec needs text (one sentence or document per line)")
    if not file.removesuffix(".gz").lower().endswith(".csv"):
        return file
    header = next(csv.reader(io.StringIO(head.decode("utf-8", "replace").splitlines()[0])))
    column = next((name for wanted in TEXT_COLUMNS for name in header if name.strip().lower() == wanted), None)
    if column is None:
        raise ValueError(f"{file}: a CSV file without a text column (one of {list(TEXT_COLUMNS)}) in its "
                         f"header {header}; set data.sources to [\"{file}#COLUMN\"] by hand")
    return f"{file}#{column}"
