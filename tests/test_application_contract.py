"""Every registered application through the same contract, end to end on tiny data.

For each application: `seqkeras run` with tuning on (2 trials) → train → evaluate →
export; the export is reloaded in a process that cannot import seqkeras and every
warm-up request is replayed there; then `seqkeras predict` (a separate process, the
real CLI) runs the serving signature on a JSON-lines file made from the warm-up
request; then `seqkeras serve` (a real HTTP server and client) answers every warm-up
request as the direct call did, and every signature meets the bad requests of
`BAD_REQUESTS` with an answer or a 400 error, never a 500, and stays up. A new application is picked up automatically from the registry and fails
here until it has a fixture in `contract_fixtures.py` and keeps the contract.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import contract_fixtures
from rest_client import call, served
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

    with served(output) as server:
        for (signature, inputs), direct in zip(calls, outputs):
            status, answer = call(server, f"/v1/models/contract_{name}:predict",
                                  {"signature_name": signature, "inputs": inputs})
            assert status == 200, answer
            _assert_same_outputs(answer["outputs"], direct, signature)
        outcomes = _bad_requests(server, f"contract_{name}", version, requests)
    report_file = os.environ.get("SEQKERAS_BAD_REQUEST_REPORT")
    if report_file:
        with open(report_file, "a", encoding="utf-8") as out:
            out.write(json.dumps({"application": name, "outcomes": outcomes}) + "\n")


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


def _assert_same_outputs(served, direct, signature):
    served = served if isinstance(served, dict) else {next(iter(direct)): served}
    assert set(served) == set(direct), (signature, sorted(served), sorted(direct))
    for key, expected in direct.items():
        got = np.array(served[key], dtype=object if expected.dtype == object else None)
        if expected.dtype == object:
            assert got.tolist() == expected.tolist(), (signature, key)
        else:
            got = np.array([np.nan if v is None else v for v in got.ravel()], np.float64).reshape(expected.shape)
            np.testing.assert_allclose(got, expected.astype(np.float64), rtol=1e-4, atol=1e-5,
                                       err_msg=f"{signature}: {key}")


# (what, how one batched input's value is replaced); strings only where marked.
BAD_REQUESTS = {
    "empty batch": None,
    "batch of 4,096": None,
    "wrong rank": None,
    "wrong dtype": None,
    "empty string": "",
    "whitespace only": " \t  ",
    "100,000 characters": "a" * 100_000,
    "control characters": "\x00\x01\x1b[31m\x7f",
    "invalid UTF-8": {"b64": base64.b64encode(b"\xff\xfe caf\xe9").decode()},
}


def _bad_requests(server, model, version, requests) -> dict:
    """Each of `BAD_REQUESTS` against each signature's warm-up request: the HTTP status
    (200 or 400, never 500) and the server still up afterwards."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(version))
    outcomes = {}
    for request in requests:
        specs = loaded.signatures[request.signature_name].structured_input_signature[1]
        inputs = {k: _plain(v) for k, v in request.inputs.items()}
        batched = [k for k in inputs if specs[k].shape.rank]
        strings = [k for k in batched if specs[k].dtype == tf.string]
        for what, text in BAD_REQUESTS.items():
            if text is not None and not strings:
                continue
            bad = dict(inputs)
            if what == "empty batch":
                bad.update({k: [] for k in batched})
            elif what == "batch of 4,096":
                bad.update({k: [inputs[k][0]] * 4096 for k in batched})
            elif what == "wrong rank":
                bad.update({k: [inputs[k]] for k in batched})
            elif what == "wrong dtype":
                bad.update({k: _wrong_dtype(inputs[k], specs[k].dtype == tf.string) for k in batched})
            else:
                bad[strings[0]] = _replace_first(inputs[strings[0]], text)
            status, answer = call(server, f"/v1/models/{model}:predict",
                                  {"signature_name": request.signature_name, "inputs": bad})
            assert status in (200, 400) and set(answer) & {"outputs", "error"}, (request.signature_name, what,
                                                                                   status, answer)
            assert call(server, f"/v1/models/{model}")[0] == 200, "the server went down"
            outcomes[f"{request.signature_name}: {what}"] = status if status == 200 else answer["error"][:120]
    return outcomes


def _wrong_dtype(value, is_string):
    if isinstance(value, list):
        return [_wrong_dtype(v, is_string) for v in value]
    return 1.5 if is_string else "x"


def _replace_first(value, text):
    """`value` (nested lists of strings) with its first string replaced by `text`."""
    if isinstance(value, list):
        return [_replace_first(value[0], text)] + value[1:] if value else value
    return text
