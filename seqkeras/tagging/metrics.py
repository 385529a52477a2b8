"""Tagging metrics: token accuracy (POS) and entity-level span P/R/F1 (NER).

Span scores are computed by `seqeval` in its default mode, which reproduces the
CoNLL shared tasks' ``conlleval`` script: a chunk is correct only when its type
and both boundaries match; an ``I-X`` that does not continue a chunk of type X
starts one (so ill-formed predictions are read, not dropped). ``f1_strict`` is
seqeval's strict mode for the predicted scheme (ill-formed chunks count as wrong).
Gold and predicted sequences are first converted to IOB2 (`schemes.convert`), which
leaves the chunks unchanged, so IOB1, IOB2 and BIOES runs are scored identically.

Example:
    >>> span_scores([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]], "iob2")["f1"]
    1.0
"""

from __future__ import annotations

from typing import Sequence

from seqkeras.tagging.schemes import convert

Sentences = Sequence[Sequence[str]]


def _check(gold: Sentences, predicted: Sentences):
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted")
    for i, (g, p) in enumerate(zip(gold, predicted)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")


def token_accuracy(gold: Sentences, predicted: Sentences) -> float:
    """Fraction of tokens whose predicted tag equals the gold tag (NaN for no tokens)."""
    _check(gold, predicted)
    total = sum(len(g) for g in gold)
    correct = sum(a == b for g, p in zip(gold, predicted) for a, b in zip(g, p))
    return correct / total if total else float("nan")


def span_scores(gold: Sentences, predicted: Sentences, scheme: str = "iob2") -> dict[str, float]:
    """Entity-level precision, recall and F1 (conlleval), plus strict F1 and token accuracy.

    Args:
        gold, predicted: tag sequences per sentence, in `scheme`.
        scheme: ``"iob1"``, ``"iob2"`` or ``"bioes"``.

    Returns:
        ``{"precision", "recall", "f1", "f1_strict", "accuracy"}`` as fractions in [0, 1].
    """
    from seqeval import metrics
    from seqeval.scheme import IOB2, IOBES

    _check(gold, predicted)
    gold2 = [convert(s, scheme, "iob2") for s in gold]
    pred2 = [convert(s, scheme, "iob2") for s in predicted]
    # Strict mode checks the sequences as predicted (IOB1 has no seqeval scheme: read as IOB2).
    strict_scheme = IOBES if scheme == "bioes" else IOB2
    gold_strict, pred_strict = (gold2, pred2) if scheme == "iob1" else (
        [list(s) for s in gold], [list(s) for s in predicted])
    return {
        "precision": float(metrics.precision_score(gold2, pred2)),
        "recall": float(metrics.recall_score(gold2, pred2)),
        "f1": float(metrics.f1_score(gold2, pred2)),
        "f1_strict": float(metrics.f1_score(gold_strict, pred_strict, mode="strict", scheme=strict_scheme)),
        "accuracy": token_accuracy(gold, predicted),
    }
