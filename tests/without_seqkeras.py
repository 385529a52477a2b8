"""Run client code against an export in a fresh process that cannot import seqkeras.

The serving contract (SPEC §6) says an export loads and runs with
`tf.saved_model.load` alone. `call_signatures` proves it the way a client would: a
new Python process in which ``import seqkeras`` raises ImportError loads the
SavedModel and calls its signatures; the outputs come back as NumPy arrays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

_CLIENT = textwrap.dedent("""
    import base64, json, sys
    sys.modules["seqkeras"] = None          # `import seqkeras` raises ImportError from here on
    try:
        import seqkeras
        raise SystemExit("seqkeras is importable")
    except ImportError:
        pass
    import numpy as np
    import tensorflow as tf

    def raw(value):  # TF Serving's REST convention: {"b64": ...} carries binary strings
        if isinstance(value, dict):
            return base64.b64decode(value["b64"])
        return [raw(v) for v in value] if isinstance(value, list) else value

    directory, calls = sys.argv[1], json.loads(sys.stdin.read())
    loaded = tf.saved_model.load(directory)
    results = []
    for signature, inputs in calls:
        function = loaded.signatures[signature]
        specs = function.structured_input_signature[1]
        tensors = {name: tf.constant(np.array(value, dtype=specs[name].dtype.as_numpy_dtype)
                                     if specs[name].dtype != tf.string else
                                     np.array(raw(value), dtype=object).reshape(np.shape(value)), specs[name].dtype)
                   for name, value in inputs.items()}
        out = function(**tensors)
        results.append({k: {"dtype": v.dtype.name,
                            "value": np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])(
                                v.numpy()).tolist() if v.dtype == tf.string else v.numpy().tolist()}
                        for k, v in out.items()})
    print("RESULT " + json.dumps({"signatures": sorted(loaded.signatures), "results": results}))
""")


def call_signatures(saved_model_dir, calls, timeout: float = 300) -> tuple[list[str], list[dict]]:
    """Load `saved_model_dir` in a process without seqkeras and make `calls`.

    Args:
        saved_model_dir: a SavedModel version directory.
        calls: ``[(signature name, {input name: nested list value})]``; values are
            converted to each input's dtype (strings as given; ``{"b64": text}`` is
            binary data, as in TF Serving's REST API).

    Returns:
        (signature names of the export, one ``{output: np.ndarray}`` per call;
        string outputs come back as arrays of Python str).
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", _CLIENT, str(saved_model_dir)], input=json.dumps(calls),
                            capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, result.stderr[-4000:]
    line = next(l for l in reversed(result.stdout.splitlines()) if l.startswith("RESULT "))
    payload = json.loads(line[len("RESULT "):])
    outputs = [{name: np.array(out["value"], dtype=object if out["dtype"] == "string" else out["dtype"])
                for name, out in call.items()} for call in payload["results"]]
    return payload["signatures"], outputs
