"""`seqkeras study gradients`: the report writer and the --quick end-to-end run."""

import json

import numpy as np
import pytest

from seqkeras.study.gradients import FULL_CELLS, StudyConfig, registry_name
from seqkeras.study.report import gate_comparison, noise_level, write_report
from seqkeras.tasks.model import make_cell


def _fake_results(cells, tasks=("adding", "agreement"), lags=(4, 8)):
    import dataclasses

    config = dataclasses.asdict(StudyConfig(cells=cells, tasks=tasks, lags=lags, flow_lag=8))
    rng = np.random.default_rng(0)
    decay = [1.0, 0.5, 0.25, 0.1, None, 0.05, 0.02, 0.01]
    flow = {"decay": decay, "grad_norm": decay, "step_jacobian_norm": 0.9,
            "step_jacobian_norms": [0.9] * 8, "product_norms": [1.0] + decay}
    results = {"config": config, "wall_seconds": 12.0, "cells": {}}
    for cell in cells:
        runs = [{"task": t, "lag": lag, "score": float(rng.uniform())} for t in tasks for lag in lags]
        results["cells"][cell] = {"learning_rate": 0.01, "trials": [], "runs": runs,
                                  "flow": {"init": flow, "trained": flow}}
    results["lstm_seed_repeats"] = [
        {"task": t, "lag": 8, "seed": 1, "score": results["cells"]["lstm"]["runs"][0]["score"] + 0.05}
        for t in tasks
    ]
    return results


def test_report_has_headline_table_gate_comparison_and_pngs(tmp_path):
    results = _fake_results(("lstm", "elman", "lstm-nfg", "lstm-noaf"))
    write_report(results, str(tmp_path))
    report = (tmp_path / "README.md").read_text()
    assert "## Headline table" in report and "| lstm-nfg |" in report
    assert "NFG (no forget gate)" in report and "NOAF (no output activation)" in report
    assert "Agree" in report or "Disagree" in report
    for name in ("accuracy_vs_lag", "gradient_flow_init", "gradient_flow_trained",
                 "step_jacobian_norms", "gates"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"({name}.png)" in report
    rows = gate_comparison(results)
    assert [r["cell"] for r in rows] == sorted([r["cell"] for r in rows],
                                               key=lambda c: next(x["mean_difference"] for x in rows if x["cell"] == c))
    assert noise_level(results) is not None


def test_every_cell_of_the_study_builds():
    from seqkeras.cli import main

    assert registry_name("lstm-nfg") == "lstm:nfg" and registry_name("gru") == "gru"
    for name in FULL_CELLS:
        assert make_cell(registry_name(name), 4).units == 4
    with pytest.raises(ValueError, match="Unknown cell 'lstm-bogus'"):
        main(["study", "gradients", "--cells", "lstm,lstm-bogus"])


def test_quick_study_writes_markdown_and_pngs(tmp_path):
    from seqkeras.cli import main

    assert main(["study", "gradients", "--quick", "--output", str(tmp_path)]) == 0
    report = (tmp_path / "README.md").read_text()
    assert "## Headline table" in report and "| lstm |" in report
    for name in ("accuracy_vs_lag", "gradient_flow_init", "gradient_flow_trained", "gates"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["cells"]) == {"elman", "lstm", "lstm-nfg"}
