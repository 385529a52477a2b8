"""The training loop: epochs over the skip-gram pipeline, linear learning-rate decay.

``learning_rate = lr0 · max(min_ratio, 1 − words_done / (epochs · words_per_epoch))``,
as in word2vec (``alpha = starting_alpha · (1 − progress)``, floored at
``starting_alpha · 1e-4``) and gensim (``alpha`` → ``min_alpha``). A Keras progress bar
shows the loss per positive pair and the training speed in raw corpus words per second.
"""

from __future__ import annotations

import dataclasses
import time

import keras
import tensorflow as tf

from seqkeras.word2vec import data as w2v_data
from seqkeras.word2vec.model import LEARNING_RATE, MIN_LEARNING_RATE, SkipGram


def linear_learning_rate(initial: float, minimum: float, done: float, total: float) -> float:
    """word2vec's linear decay from `initial` to `minimum` over `total` words."""
    progress = min(max(done / max(total, 1.0), 0.0), 1.0)
    return max(minimum, initial * (1.0 - progress))


@dataclasses.dataclass
class TrainReport:
    """What `train` measured: ``words`` raw in-vocabulary words consumed over all
    epochs, ``pairs`` positive pairs, ``seconds`` wall time, ``loss`` per pair of the
    last epoch, ``history`` that loss per epoch."""

    words: int
    pairs: int
    seconds: float
    loss: float
    history: list

    @property
    def words_per_second(self) -> float:
        return self.words / max(self.seconds, 1e-9)


def train(model: SkipGram, lines: tf.data.Dataset, vocab, stats: w2v_data.CorpusStats,
          config: w2v_data.SkipGramConfig, epochs: int = 5, learning_rate: float = LEARNING_RATE,
          min_learning_rate: float = MIN_LEARNING_RATE, standardize_mode: str = "words",
          verbose: int = 1, epoch_range: tuple[int, int] | None = None) -> TrainReport:
    """Train `model` on `lines` for `epochs` passes.

    Args:
        model: a `SkipGram` sized ``len(vocab)``.
        lines: dataset of ``string[]`` lines (re-iterated each epoch).
        vocab, stats: from `data.build_vocabulary` on the same lines.
        config: sampling options.
        epochs: passes over the corpus.
        learning_rate, min_learning_rate: the linear decay's start and floor.
        verbose: 1 shows a progress bar per epoch with loss and words/s.
        epoch_range: ``(first, stop)`` runs only epochs ``first … stop−1`` of the
            `epochs`-epoch schedule (the learning rate continues where epoch
            ``first`` starts), so a caller can interleave epochs with other work.

    Returns:
        `TrainReport`.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be ≥ 1, received {epochs}")
    if model.vocabulary_size != len(vocab):
        raise ValueError(f"model has {model.vocabulary_size} rows but the vocabulary has {len(vocab)} ids")
    total = float(stats.words) * epochs
    first, stop = epoch_range or (0, epochs)
    done = first * stats.words
    consumed = pairs = 0
    history = []
    start = time.perf_counter()
    for epoch in range(first, stop):
        batches = w2v_data.skipgram_batches(lines, vocab, config, epoch=epoch, standardize_mode=standardize_mode)
        if model.window != config.window:
            raise ValueError(f"model.window={model.window} differs from config.window={config.window}")
        bar = keras.utils.Progbar(stats.words, stateful_metrics=["loss", "words/s", "lr"],
                                  verbose=verbose, unit_name="word") if verbose else None
        epoch_loss, epoch_pairs, epoch_words, last_shown = 0.0, 0, 0, 0.0
        pending = []
        for batch in batches:
            lr = linear_learning_rate(learning_rate, min_learning_rate, done, total)
            loss, n_pairs = model.train_batch(batch, lr)
            words = int(batch["words"])
            done += words
            consumed += words
            epoch_words += words
            pending.append((loss, n_pairs))
            now = time.perf_counter()
            if bar is not None and now - last_shown > 0.5:
                for l, m in pending:
                    epoch_loss += float(l)
                    epoch_pairs += int(m)
                pending.clear()
                last_shown = now
                bar.update(min(epoch_words, stats.words), values=[
                    ("loss", epoch_loss / max(epoch_pairs, 1)), ("words/s", consumed / (now - start)),
                    ("lr", lr)])
        for l, m in pending:
            epoch_loss += float(l)
            epoch_pairs += int(m)
        pairs += epoch_pairs
        history.append(epoch_loss / max(epoch_pairs, 1))
        if bar is not None:
            now = time.perf_counter()
            bar.update(stats.words, values=[("loss", history[-1]), ("words/s", consumed / (now - start)),
                                            ("lr", lr)], finalize=True)
    seconds = time.perf_counter() - start
    return TrainReport(consumed, pairs, seconds, history[-1], history)
