"""Load test of `seqkeras serve`: N concurrent HTTP clients against exports, beside calling
the SavedModel directly in the same run.

Each target is ``NAME:SIGNATURE`` of a model under the base path; its request is the
export's own first warm-up request cut to one row (batch 1, what an interactive client
sends), or a JSON request given with ``--request NAME=FILE``. The server runs as a real
`seqkeras serve` process; its resident memory is read at the start and at the end.

    python bench/serving.py --base saved_models --target sst2_sentiment:serving_default \\
        --target shakespeare_char_lm:generate --target multi30k_de_en:translate --clients 1 4 --seconds 60

Prints one row per target and client count: requests/s, p50 / p99 latency, errors (must
be 0), and the direct call's p50 (the same request through `tf.saved_model.load` in this
process, one caller). With one client the p50 is the batch-1 latency; with several, the
requests queue on the server's cores and p50 grows with the count.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from harness import markdown_table, versions  # noqa: E402


def resident_mib(pid: int) -> float:
    """VmRSS of a process, MiB (Linux)."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def warmup_request(version_dir: pathlib.Path, signature: str) -> dict:
    """The export's first warm-up request for `signature`, cut to batch 1, as REST columnar inputs."""
    from seqkeras.serving import read_warmup_requests

    for _, request in read_warmup_requests(version_dir):
        if request.signature_name == signature:
            inputs = {}
            for name, value in request.inputs.items():
                array = np.asarray(value)
                array = array[:1] if array.ndim else array
                if array.dtype.kind in "OS":
                    array = np.vectorize(lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes) else b,
                                         otypes=[object])(array)
                inputs[name] = array.tolist()
            return {"signature_name": signature, "inputs": inputs}
    raise SystemExit(f"error: {version_dir} has no warm-up request for signature {signature!r}")


def post(url: str, body: bytes) -> tuple[int, float]:
    start = time.perf_counter()
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = 0
    return status, time.perf_counter() - start


def load(url: str, body: bytes, clients: int, seconds: float) -> dict:
    """`clients` threads posting `body` back to back for `seconds`."""
    latencies, errors, stop = [], [0], threading.Event()
    lock = threading.Lock()

    def client():
        while not stop.is_set():
            status, took = post(url, body)
            with lock:
                if status == 200:
                    latencies.append(took)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {"requests": len(latencies), "per_second": len(latencies) / elapsed, "errors": errors[0],
            "p50_ms": float(np.percentile(ms, 50)) if len(ms) else float("nan"),
            "p99_ms": float(np.percentile(ms, 99)) if len(ms) else float("nan")}


def direct_p50(version_dir: pathlib.Path, request: dict, seconds: float) -> float:
    """p50 latency (ms) of the same request through `tf.saved_model.load`, one caller."""
    import tensorflow as tf

    function = tf.saved_model.load(str(version_dir)).signatures[request["signature_name"]]
    specs = function.structured_input_signature[1]
    feeds = {name: tf.constant(np.array(value, dtype=object if specs[name].dtype == tf.string
                                        else specs[name].dtype.as_numpy_dtype), specs[name].dtype)
             for name, value in request["inputs"].items()}
    function(**feeds)
    took, deadline = [], time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        function(**feeds)
        took.append(time.perf_counter() - start)
    return float(np.percentile(np.array(took) * 1000, 50))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="saved_models")
    parser.add_argument("--target", action="append", required=True, metavar="NAME:SIGNATURE")
    parser.add_argument("--request", action="append", default=[], metavar="NAME=FILE",
                        help="a JSON request body for a model instead of its warm-up request")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4],
                        help="concurrent clients; one load test per count (1: batch-1 latency)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--port", type=int, default=8531)
    parser.add_argument("--output", default="bench/results/serving.json")
    args = parser.parse_args(argv)

    from seqkeras.pipeline.commands.generate import resolve_saved_model

    requests = dict(item.split("=", 1) for item in args.request)
    server = subprocess.Popen([sys.executable, "-m", "seqkeras.cli", "serve", args.base, "--port", str(args.port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{args.port}/v1/models"
        targets = [t.split(":", 1) for t in args.target]
        deadline = time.time() + 300
        for name, _ in targets:   # wait until each model is served
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/{name}", timeout=5):
                        break
                except OSError:
                    if time.time() > deadline or server.poll() is not None:
                        raise SystemExit(f"error: the server did not serve {name!r}")
                    time.sleep(0.5)
        memory_start = resident_mib(server.pid)
        rows, results = [], []
        for name, signature in targets:
            version = resolve_saved_model(pathlib.Path(args.base) / name)
            body = json.loads(pathlib.Path(requests[name]).read_text()) if name in requests else \
                warmup_request(version, signature)
            direct = direct_p50(version, body, min(args.seconds, 10))
            for clients in args.clients:
                measured = load(f"{url}/{name}:predict", json.dumps(body).encode(), clients, args.seconds)
                measured.update(target=f"{name}:{signature}", clients=clients, direct_p50_ms=direct)
                results.append(measured)
                rows.append([measured["target"], clients, f"{measured['per_second']:.1f}",
                             f"{measured['p50_ms']:.1f}", f"{measured['p99_ms']:.1f}", str(measured["errors"]),
                             f"{direct:.1f}", f"{measured['p50_ms'] / direct:.2f}"])
        memory_end = resident_mib(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    print(f"\n{args.seconds:.0f} s per target and client count; server RSS {memory_start:.0f} → "
          f"{memory_end:.0f} MiB\n")
    print(markdown_table(["target", "clients", "requests/s", "p50 ms", "p99 ms", "errors", "direct call p50 ms",
                          "served / direct p50"], rows))
    report = {"results": results, "server_rss_mib": [memory_start, memory_end], "clients": args.clients,
              "seconds": args.seconds, "versions": versions(["starlette", "uvicorn"]),
              "command": "python bench/serving.py " + " ".join(sys.argv[1:] if argv is None else argv)}
    pathlib.Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.output).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
