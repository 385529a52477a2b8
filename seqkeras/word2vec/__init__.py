"""word2vec: skip-gram with negative sampling, trained in Keras, evaluated as gensim does.

* `Spec` (`spec.py`): ``[data]`` sources and vocabulary, ``[model]`` SGNS settings,
  ``[training]`` epochs and linear learning-rate decay, ``[evaluation]``, ``[export]``.
* `data.py`: text → vocabulary (min_count) → subsampling → dynamic windows →
  unigram^0.75 negatives, one streaming, seeded tf.data pipeline.
* `model.py`: `SkipGram` — matrices W and C, sparse SGD step (`SkipGram.train_step`
  for `fit`, `SkipGram.train_batch` for `train.train`).
* `evaluation.py`: analogy accuracy (3CosAdd/3CosMul, per section), WordSim-353
  Spearman, `most_similar`, k-means clusters.
* `bias.py`: WEAT effect sizes and permutation p-values over the published lists
  (``weat_lists.json``), the he:she :: occupation:? analogy probe.
* `server.py`: ``words → vectors, known`` SavedModel (`WordVectorLookup`).
* `vectors.py`: word2vec text/binary files; `embedding_matrix` initialises another
  application's embedding layer from trained vectors.
* `application.py`: `Word2VecApplication`, the pipeline hooks (``seqkeras run`` trains
  with `fit`); `train.train` is the same step in a plain loop (used by the benchmark).

Example:
    >>> from seqkeras.pipeline import load_spec, runner
    >>> report = runner.run(load_spec("pipelines/word2vec.toml"), data_dir="../shared/data")  # doctest: +SKIP
"""

from __future__ import annotations

from seqkeras.word2vec.application import (EpochSeed, Word2VecApplication, Word2VecData, Word2VecHyperModel,
                                           sampling_config, training_batches, word_vectors)
from seqkeras.word2vec.bias import WeatResult, analogy_probe, load_weat_lists, weat_tests
from seqkeras.word2vec.data import (CorpusStats, SkipGramConfig, build_vocabulary, corpus_lines,
                                    keep_probabilities, negative_distribution, prepare_corpus,
                                    skipgram_batches, window_masks, window_pairs)
from seqkeras.word2vec.evaluation import (WordVectors, cluster_report, evaluate_analogies,
                                          evaluate_word_pairs, kmeans_clusters)
from seqkeras.word2vec.model import SkipGram
from seqkeras.word2vec.server import WordVectorLookup, export_vectors
from seqkeras.word2vec.spec import DataSpec, EvaluationSpec, ModelSpec, Spec, W2VTrainingSpec
from seqkeras.word2vec.train import TrainReport, linear_learning_rate, train
from seqkeras.word2vec.vectors import embedding_matrix, load_word2vec_format, save_word2vec_format

__all__ = ["CorpusStats", "DataSpec", "EpochSeed", "EvaluationSpec", "ModelSpec", "SkipGram", "SkipGramConfig",
           "Spec", "TrainReport", "W2VTrainingSpec", "WeatResult", "Word2VecApplication", "Word2VecData", "Word2VecHyperModel",
           "WordVectorLookup", "WordVectors", "analogy_probe", "build_vocabulary", "cluster_report", "corpus_lines",
           "embedding_matrix", "evaluate_analogies", "evaluate_word_pairs", "export_vectors",
           "keep_probabilities", "kmeans_clusters", "linear_learning_rate", "load_weat_lists", "load_word2vec_format",
           "negative_distribution", "prepare_corpus", "sampling_config", "save_word2vec_format",
           "skipgram_batches", "train", "training_batches", "weat_tests", "window_masks", "window_pairs", "word_vectors"]
