"""Every registered application through the same contract, end to end on tiny data.

For each application: `seqkeras run` with tuning on (2 trials) → train → evaluate →
export; the export is reloaded in a process that cannot import seqkeras and every
warm-up request is replayed there; then `seqkeras predict` (a separate process, the
real CLI) runs the serving signature on a JSON-lines file made from the warm-up
request. A new application is picked up automatically from the registry and fails
here until it has a fixture in `contract_fixtures.py` and keeps the contract.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import contract_fixtures
from without_seqkeras import call_signatures
from seqkeras import cli
from seqkeras.pipeline import registry
from seqkeras.serving import read_warmup_requests


@pytest.mark.parametrize("name", registry.names())
def test_application_keeps_the_contract(name, tmp_path):
    assert name in contract_fixtures.FIXTURES, f"application {name!r} has no contract fixture"
    data, work, output = tmp_path / "data", tmp_path / "runs", tmp_path / "saved_models"
    data.mkdir()
    spec_file = tmp_path / f"{name}.toml"
    spec_file.write_text(contract_fixtures.FIXTURES[name](data), encoding="utf-8")
    app = registry.get(name)

    assert cli.main(["run", str(spec_file), "--data-dir", str(data), "--work-dir", str(work),
                     "--output", str(output), "--tune"]) == 0
    run_dir = work / f"contract_{name}"
    report = json.loads((run_dir / "report.json").read_text())
    best = json.loads((run_dir / "best_hyperparameters.json").read_text())
    assert set(best) == set(report["spec"]["tuning"]["space"])
    assert (run_dir / "tuning_summary.md").is_file()
    metrics = report["validation"]
    assert metrics and all(isinstance(v, (int, float)) for v in metrics.values())
    assert app.headline_metric in metrics and np.isfinite(metrics[app.headline_metric])

    version = output / f"contract_{name}" / "1"
    assert report["export"] == str(version) and (version / "saved_model.pb").is_file()
    assert [p.name for p in version.parent.iterdir()] == ["1"]          # nothing half-written beside it
    requests = [request for _, request in read_warmup_requests(version)]
    assert "serving_default" in {r.signature_name for r in requests}

    calls = [(r.signature_name, {k: _plain(v) for k, v in r.inputs.items()}) for r in requests]
    signatures, outputs = call_signatures(version, calls)
    assert "serving_default" in signatures
    assert all(out for out in outputs)

    default = next(r for r in requests if r.signature_name == "serving_default")
    jsonl, scalars = _jsonl(default.inputs)
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text(jsonl, encoding="utf-8")
    args = [sys.executable, "-m", "seqkeras.cli", "predict", str(version), str(inputs)]
    args += [f"--arg={k}={v}" for k, v in scalars.items()]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == len(jsonl.splitlines())
    expected = outputs[[r.signature_name for r in requests].index("serving_default")]
    for key in expected:
        assert key in lines[0]


def _plain(value):
    array = np.asarray(value)
    if array.dtype.kind in "OSU":
        return np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else str(v), otypes=[object])(
            array).tolist()
    return array.tolist()


def _jsonl(inputs) -> tuple[str, dict]:
    """One JSON object per example of a warm-up request; scalar inputs separately."""
    batched = {k: _plain(v) for k, v in inputs.items() if np.ndim(v) > 0}
    scalars = {k: _plain(v) for k, v in inputs.items() if np.ndim(v) == 0}
    count = len(next(iter(batched.values())))
    rows = [json.dumps({k: v[i] for k, v in batched.items()}) for i in range(count)]
    return "\n".join(rows) + "\n", scalars
