"""`RecommendationApplication`: next-item recommendation on the shared pipeline machinery.

The recommender is the language model of `seqkeras.language_model` over item indices
(embedding → any seqkeras recurrent stack → scores over every item, tied or not; not
stateful: one padded user history per row), trained with full softmax cross-entropy or
GRU4Rec's sampled losses (`seqkeras.recommendation.losses`). Every evaluation ranks
all catalogue items for each user's held-out item and scores the model and the
popularity, Markov and item-kNN baselines with the same function
(`seqkeras.recommendation.evaluation`), side by side.
"""

from __future__ import annotations

import json

import keras
import numpy as np

from seqkeras.language_model.model import build_language_model
from seqkeras.pipeline.application import Application
from seqkeras.pipeline.spec import JIT_COMPILE
from seqkeras.pipeline.tuning import SpecHyperModel
from seqkeras.recommendation import evaluation
from seqkeras.recommendation.data import RecommendationData, build_data, padded, with_batches
from seqkeras.recommendation.losses import NextItemCrossEntropy, make_loss
from seqkeras.recommendation.server import RecommenderServer
from seqkeras.recommendation.spec import Spec

SCORE_BATCH = 256


class RecommendationApplication(Application):
    """An interaction log → recurrent next-item recommender → ids-in, top-k-out export."""

    name = "recommendation"
    spec_class = Spec
    headline_metric = "hr@10"

    def build_data(self, spec, data_dir, run_dir) -> RecommendationData:
        """The log read and split leave-last-out, items indexed, ``(items, next items)``
        int32[B, T] batches (`build_data`)."""
        return build_data(spec, data_dir, run_dir)

    def build_model(self, spec, data) -> keras.Model:
        """The recommender ``int32[B, T] → float32[B, T, V]``, compiled with the spec's loss
        (padding positions ignored) and the full cross-entropy metric that compares losses."""
        m = spec.model
        model = build_language_model(
            data.vocabulary_size, cell=m.cell, cell_options=m.cell_options, layers=m.layers, units=m.units,
            embedding_dim=m.embedding_dim, tie_embeddings=m.tie_embeddings, dropout=m.dropout,
            recurrent_dropout=m.recurrent_dropout, stateful=False, jit_compile=JIT_COMPILE[m.jit_compile],
            name=spec.name or "recommender")
        model.compile(optimizer=self.optimizer(spec),
                      loss=make_loss(m.loss, data.popularity, m.negatives, m.sample_alpha, m.bpr_regularization,
                                     seed=spec.training.seed),
                      metrics=[NextItemCrossEntropy()])
        return model

    def hypermodel(self, spec, data):
        """The spec's search space; a trial that changes ``data.max_history`` (or the batch
        size) re-batches the sequences already read (`with_batches`)."""
        return SpecHyperModel(self, spec, data, rebuild=with_batches)

    def evaluate(self, spec, model, data) -> dict[str, float]:
        """HR / NDCG / MRR at every ``evaluation.ks`` by full ranking, for the model and
        each baseline on ``evaluation.split``; prints the table, saves it in the run
        directory; returns the model's figures and each baseline's HR@10 and NDCG@10."""
        split = data.splits[spec.evaluation.split]
        ev = spec.evaluation
        results = {"model": evaluation.evaluate_scores(last_step_scores(model, split.histories, data.max_history),
                                                       split.targets, split.histories, ev.ks, ev.exclude_history)}
        for name, scores in evaluation.baseline_scores(data.train_sequences, split.histories,
                                                       data.vocabulary_size).items():
            results[name] = evaluation.evaluate_scores(scores, split.targets, split.histories, ev.ks,
                                                       ev.exclude_history)
        print(f"{ev.split}: {len(split.targets)} users, full ranking over {data.items} items"
              f"{', history excluded' if ev.exclude_history else ''}")
        print(evaluation.compare(results, ev.ks))
        if data.run_dir is not None:
            (data.run_dir / f"evaluation_{ev.split}.json").write_text(json.dumps(results, indent=1, default=float))
        summary = {key: float(value) for key, value in results["model"].items()}
        for name in evaluation.BASELINES:
            summary.update({f"{name}_{key}": float(results[name][key]) for key in ("hr@10", "ndcg@10")})
        best = evaluation.best_baseline(results)
        summary["hr@10_ratio_to_best_baseline"] = summary["hr@10"] / float(results[best]["hr@10"])
        best_ndcg = evaluation.best_baseline(results, "ndcg@10")
        summary["ndcg@10_ratio_to_best_baseline"] = summary["ndcg@10"] / float(results[best_ndcg]["ndcg@10"])
        return summary

    def exporter(self, spec, model, data) -> RecommenderServer:
        """The item ids → top-k server (`RecommenderServer`)."""
        return RecommenderServer(model, data)

    def after_run(self, spec, model, data, report) -> None:
        metrics = report.get("validation", {})
        if "hr@10" in metrics:
            print(f"{spec.evaluation.split} HR@10 {metrics['hr@10']:.4f} "
                  f"({metrics['hr@10_ratio_to_best_baseline']:.2f} × the best baseline), "
                  f"NDCG@10 {metrics['ndcg@10']:.4f} ({metrics['ndcg@10_ratio_to_best_baseline']:.2f} ×)")

    def starter(self, data_files):
        """``data.path``: a tab-separated ``user item rating time`` log (MovieLens layout)."""
        return {"data.path": data_files[0]}


def last_step_scores(model, histories: list[np.ndarray], max_history: int) -> np.ndarray:
    """float32[U, V]: the model's scores after reading each history (its last max_history items)."""
    inputs, lengths = padded(histories, max_history)
    chunks = []
    for start in range(0, len(inputs), SCORE_BATCH):
        logits = np.asarray(model(inputs[start:start + SCORE_BATCH], training=False), np.float32)
        rows = np.arange(len(logits))
        chunks.append(logits[rows, lengths[start:start + SCORE_BATCH] - 1])
    return np.concatenate(chunks)
