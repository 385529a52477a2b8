"""Segment (speaker-turn) scoring of frame labels, and the side-by-side table."""

from __future__ import annotations

import numpy as np
import pytest

from seqkeras.sequences.application import compare, count_turns, frame_scores, turn_tags, turns

CLASSES = ["1", "2", "3"]


def test_each_run_of_equal_labels_is_one_turn():
    assert turn_tags([0, 0, 2, 2, 2, 1], CLASSES) == ["B-1", "I-1", "B-3", "I-3", "I-3", "B-2"]
    assert count_turns(np.array([0, 0, 2, 2, 2, 1])) == 3 and count_turns(np.array([], int)) == 0
    assert turns([0, 0, 2, 2, 2, 1], CLASSES) == "1×2 3×3 2×1"


def test_a_turn_counts_only_with_its_speaker_and_both_boundaries_exact():
    gold = [np.array([0, 0, 0, 1, 1, 2, 2, 2])]                # turns 1×3 2×2 3×3
    assert frame_scores(gold, gold, CLASSES)["segment_f1"] == 1.0
    shifted = [np.array([0, 0, 1, 1, 1, 2, 2, 2])]             # one boundary off by a frame: 2 turns wrong
    scores = frame_scores(gold, shifted, CLASSES)
    assert scores["accuracy"] == pytest.approx(7 / 8)
    assert scores["segment_precision"] == pytest.approx(1 / 3) and scores["segment_recall"] == pytest.approx(1 / 3)
    flicker = [np.array([0, 0, 0, 1, 1, 2, 0, 2])]             # one wrong frame splits the last turn in three
    scores = frame_scores(gold, flicker, CLASSES)
    assert scores["segment_recall"] == pytest.approx(2 / 3) and scores["segment_precision"] == pytest.approx(2 / 5)
    assert scores["turns_per_stream"] == 5


def test_the_table_puts_model_and_baseline_side_by_side():
    text = compare({"model": {"accuracy": 0.98}, "baseline": {"accuracy": 0.9}})
    assert "baseline (pooled LR)" in text and "98.00" in text and "90.00" in text
    text = compare({"model": {"accuracy": 1.0, "turns_per_stream": 4.0},
                    "baseline": {"accuracy": 0.5, "turns_per_stream": 7.0}, "gold": {"turns_per_stream": 4.0}})
    assert "per-frame MLP" in text and "gold" in text.splitlines()[0]
