"""Serve a base path of SavedModels with TensorFlow Serving's REST API, locally.

``seqkeras serve saved_models/ --port 8501`` answers the requests TensorFlow Serving
answers (https://www.tensorflow.org/tfx/serving/api_rest), so a client written against
one works against the other:

* ``GET /v1/models/NAME[/versions/V]``: version status;
* ``GET /v1/models/NAME[/versions/V]/metadata``: the signature defs (the same JSON as
  Serving: `SignatureDef` protos through `json_format`);
* ``POST /v1/models/NAME[/versions/V]:predict`` with ``signature_name`` (default
  ``serving_default``) and either ``instances`` (row format → ``{"predictions": …}``)
  or ``inputs`` (columnar → ``{"outputs": …}``). Binary strings travel as
  ``{"b64": "…"}`` both ways (outputs: those whose name ends in ``_bytes``, as in
  Serving; other string outputs are UTF-8 text).
* errors: ``{"error": "…"}`` with 400 (bad request), 404 (no such model, version or
  signature) or 500.

Versions (`ModelRepository`): ``<base>/<name>/<integer>/`` holding a
``saved_model.pb``; hidden ``.tmp-*`` directories of an export in progress are
ignored. Like Serving's default policy, the highest version of each model is served.
A poller loads a new version when it appears, replays its warm-up requests, and only
then swaps it in (one reference assignment under a lock): requests in flight finish on
the version they started with, none fails during the switch. A version that does not
load is logged and skipped; the previous one stays in service.

Row format details (as Serving): with one signature input an instance is its value,
otherwise an object of input name → value; every batched input needs one value per
instance. An input of rank 0 (``beam_width``) must have the same value in every
instance and is fed once.

Built on Starlette (routing, requests, JSON responses) under uvicorn; the handlers are
plain functions that Starlette runs in its thread pool, so TensorFlow calls run
concurrently.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import math
import os
import pathlib
import threading
from typing import NamedTuple

import numpy as np

log = logging.getLogger("seqkeras.serve")

MODEL_PATH = "/v1/models/{name}"


class RequestError(Exception):
    """A request the server refuses: the message for the client and the HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class LoadedVersion(NamedTuple):
    """One loaded SavedModel version."""

    version: int
    path: pathlib.Path
    model: object          # what tf.saved_model.load returned
    signature_defs: dict   # JSON of the MetaGraphDef's signature_def map


def _signature_defs(path: pathlib.Path) -> dict:
    """The ``signature_def`` map of a SavedModel as TensorFlow Serving prints it."""
    from google.protobuf import json_format
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((path / "saved_model.pb").read_bytes())
    definitions = saved.meta_graphs[0].signature_def
    return {name: json_format.MessageToDict(definitions[name], preserving_proto_field_name=True)
            for name in definitions if not name.startswith("__")}


def load_version(path: pathlib.Path, version: int) -> LoadedVersion:
    """Load one version and replay its warm-up requests (errors propagate)."""
    import tensorflow as tf

    from seqkeras.serving.warmup import WARMUP_DIR, WARMUP_FILE, read_warmup_requests, run_warmup_requests

    model = tf.saved_model.load(str(path))
    if (path / WARMUP_DIR / WARMUP_FILE).is_file():
        run_warmup_requests(model, [request for _, request in read_warmup_requests(path)])
    return LoadedVersion(version, path, model, _signature_defs(path))


def available_versions(model_dir: pathlib.Path) -> list[int]:
    """Integer version directories that hold a complete SavedModel, sorted."""
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir()
                  if p.name.isdigit() and (p / "saved_model.pb").is_file())


class ModelRepository:
    """The models under a base path, each at its highest loadable version.

    Args:
        base_path: ``saved_models/``: one directory per model name.
        poll_seconds: how often `start` rescans for new models and versions.
    """

    def __init__(self, base_path: str | os.PathLike, poll_seconds: float = 2.0):
        self.base_path = pathlib.Path(base_path)
        if not self.base_path.is_dir():
            raise FileNotFoundError(f"{self.base_path}: no such directory (the base path holds <name>/<version>/)")
        self.poll_seconds = poll_seconds
        self._served: dict[str, LoadedVersion] = {}
        self._failed: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def refresh(self) -> list[tuple[str, int]]:
        """Load every model's newest version not yet served; returns what was swapped in."""
        swapped = []
        for model_dir in sorted(p for p in self.base_path.iterdir() if p.is_dir() and not p.name.startswith(".")):
            name = model_dir.name
            current = self._served.get(name)
            for version in reversed(available_versions(model_dir)):
                if current is not None and version <= current.version:
                    break
                if (name, version) in self._failed:
                    continue
                try:
                    loaded = load_version(model_dir / str(version), version)
                except Exception as error:  # a bad version must not take the server down
                    self._failed[(name, version)] = f"{type(error).__name__}: {error}"
                    log.error("model %s version %d does not load: %s", name, version, error)
                    continue
                with self._lock:
                    self._served[name] = loaded
                log.info("serving model %s version %d", name, version)
                swapped.append((name, version))
                break
        return swapped

    def start(self) -> None:
        """Load what is there now, then poll for new versions in a daemon thread."""
        self.refresh()

        def poll():
            while not self._stop.wait(self.poll_seconds):
                try:
                    self.refresh()
                except OSError as error:  # the base path vanished for a moment
                    log.warning("cannot scan %s: %s", self.base_path, error)

        self._thread = threading.Thread(target=poll, name="seqkeras-serve-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    @property
    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._served)

    def get(self, name: str, version: str | None = None) -> LoadedVersion:
        """The served version of `name` (checked against `version` when given)."""
        with self._lock:
            loaded = self._served.get(name)
        if loaded is None:
            raise RequestError(f"Servable not found for request: Latest({name})", 404)
        if version is not None and str(loaded.version) != version:
            raise RequestError(f"Servable not found for request: Specific({name}, {version})", 404)
        return loaded

    def status(self, name: str, version: str | None = None) -> dict:
        """``GET /v1/models/NAME``: TensorFlow Serving's GetModelStatusResponse JSON."""
        loaded = self.get(name, version)
        return {"model_version_status": [{"version": str(loaded.version), "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}}]}

    def metadata(self, name: str, version: str | None = None) -> dict:
        """``GET /v1/models/NAME/metadata``: the model spec and its signature defs."""
        loaded = self.get(name, version)
        return {"model_spec": {"name": name, "signature_name": "", "version": str(loaded.version)},
                "metadata": {"signature_def": {"signature_def": loaded.signature_defs}}}


# ------------------------------------------------------------------ JSON ↔ tensors
def _decode_b64(value):
    """``{"b64": "…"}`` anywhere in a JSON value → bytes."""
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise RequestError(f"a JSON object in a tensor value must be {{\"b64\": …}}, received {value!r:.80}")
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (ValueError, TypeError) as error:
            raise RequestError(f"invalid base64 in {{\"b64\": …}}: {error}") from None
    if isinstance(value, list):
        return [_decode_b64(v) for v in value]
    return value


def to_tensor(name: str, value, spec):
    """A JSON value → a tensor of the signature input's dtype and rank (no padding:
    ragged lists are an error, as in Serving)."""
    import tensorflow as tf

    value = _decode_b64(value)
    try:
        if spec.dtype == tf.string:
            array = np.asarray(value, dtype=object)
            flat = array.reshape(-1)
            for i, item in enumerate(flat):
                if isinstance(item, str):
                    flat[i] = item.encode("utf-8")
                elif not isinstance(item, bytes):
                    raise ValueError(f"{item!r:.40} is not a string")
        else:
            array = np.asarray(value)
            if array.dtype == object or array.dtype.kind in "USV":
                raise ValueError(f"expects numbers, received {value!r:.60}")
            array = array.astype(spec.dtype.as_numpy_dtype)
    except (ValueError, TypeError, OverflowError) as error:
        reason = ("ragged lists (rows of different lengths): pad them, the server does not"
                  if "inhomogeneous" in str(error) else str(error))
        raise RequestError(f"input {name!r} ({spec.dtype.name}{spec.shape}): {reason}") from None
    if array.size == 0 and array.ndim == 1 and (spec.shape.rank or 0) > 1:
        # ``[]`` is an empty batch whatever the rank (JSON cannot spell a [0, T] array).
        array = array.reshape([0] + [d or 0 for d in spec.shape.as_list()[1:]])
    if spec.shape.rank is not None and array.ndim != spec.shape.rank:
        raise RequestError(f"input {name!r} expects rank {spec.shape.rank} ({spec.dtype.name}{spec.shape}), "
                           f"received a value of shape {list(array.shape)}")
    if not spec.shape.is_compatible_with(array.shape):
        raise RequestError(f"input {name!r} expects shape {spec.shape}, received {list(array.shape)}")
    return tf.constant(array, dtype=spec.dtype)


def _json_value(name: str, array: np.ndarray):
    """An output array → JSON: NaN/inf as null, strings as UTF-8 or ``{"b64"}`` (``*_bytes``)."""
    if array.dtype == object:
        if name.endswith("_bytes"):
            return np.vectorize(lambda b: {"b64": base64.b64encode(b).decode()}, otypes=[object])(array).tolist()
        return np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])(array).tolist()
    values = array.tolist()
    if array.dtype.kind == "f":
        return json_safe(values)
    return values


def json_safe(value):
    """`value` (nested lists and dicts) with NaN and ±inf floats as None: JSON has no such
    numbers (``NaN`` is not JSON), and strict clients refuse them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


def predict(loaded: LoadedVersion, body: dict) -> dict:
    """``:predict``: run the requested signature on row (``instances``) or columnar (``inputs``) data."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    if ("instances" in body) == ("inputs" in body):
        raise RequestError("the request needs exactly one of 'instances' (row format) or 'inputs' (columnar)")
    signature_name = body.get("signature_name", "serving_default")
    if signature_name not in loaded.model.signatures:
        raise RequestError(f"Serving signature name: \"{signature_name}\" not found in signature def; "
                           f"available: {sorted(loaded.model.signatures)}", 404)
    function = loaded.model.signatures[signature_name]
    specs = function.structured_input_signature[1]
    if "instances" in body:
        feeds, rows = _row_feeds(body["instances"], specs)
    else:
        feeds, rows = _columnar_feeds(body["inputs"], specs), None
    import tensorflow as tf

    try:
        outputs = {name: tensor.numpy() for name, tensor in function(**feeds).items()}
    except (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError) as error:
        raise RequestError(graph_error_reason(error.message or str(error))) from None
    if rows is None:
        values = {name: _json_value(name, array) for name, array in outputs.items()}
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    return {"predictions": _predictions(outputs, rows)}


def graph_error_reason(message: str) -> str:
    """What a client needs from a TensorFlow op error: the message of the failed
    `tf.debugging` assertion (its first ``[…]``), else the first line that is not
    TensorFlow's framing (``Graph execution error:``, ``Detected at node …``)."""
    lines = [line.strip() for line in message.splitlines()]
    for line in lines:
        if line.startswith("assertion failed:"):
            reason = line.removeprefix("assertion failed:").strip()
            if reason.startswith("[") and "]" in reason:
                reason = reason[1:reason.index("]")]
            return reason.replace("\\'", "'")
    framing = ("Graph execution error", "Detected at node", "<stack traces unavailable>", "[[{{node")
    return next((line for line in lines if line and not line.startswith(framing)), message.strip()[:500])


def _columnar_feeds(inputs, specs) -> dict:
    if not isinstance(inputs, dict):
        if len(specs) != 1:
            raise RequestError(f"'inputs' must be an object of input name → value; the signature takes "
                               f"{sorted(specs)}")
        inputs = {next(iter(specs)): inputs}
    _check_names(inputs, specs)
    return {name: to_tensor(name, value, specs[name]) for name, value in inputs.items()}


def _row_feeds(instances, specs) -> tuple[dict, int]:
    if not isinstance(instances, list):
        raise RequestError("'instances' must be a list (one entry per example)")
    if len(specs) == 1:
        only = next(iter(specs))
        instances = [i[only] if isinstance(i, dict) and set(i) == {only} else i for i in instances]
        return {only: to_tensor(only, instances, specs[only])}, len(instances)
    if not all(isinstance(i, dict) for i in instances):
        raise RequestError(f"with several signature inputs ({sorted(specs)}), every instance must be an object "
                           f"of input name → value")
    for instance in instances:
        _check_names(instance, specs)
    feeds = {}
    for name, spec in specs.items():
        values = [instance[name] for instance in instances]
        if spec.shape.rank == 0:  # one value for the batch (Serving would refuse it in row format)
            if any(v != values[0] for v in values[1:]):
                raise RequestError(f"input {name!r} is a scalar of the whole batch: every instance must give "
                                   f"the same value")
            feeds[name] = to_tensor(name, values[0] if values else 0, spec)
        else:
            feeds[name] = to_tensor(name, values, spec)
    return feeds, len(instances)


def _check_names(given: dict, specs) -> None:
    missing, unknown = sorted(set(specs) - set(given)), sorted(set(given) - set(specs))
    if missing or unknown:
        raise RequestError(f"the signature takes inputs {sorted(specs)}; missing {missing}, unknown {unknown}")


def _predictions(outputs: dict, rows: int) -> list:
    """Row format answer: one entry per instance (the value itself when there is one output)."""
    batched = {name: array for name, array in outputs.items() if array.ndim >= 1 and array.shape[0] == rows}
    if len(batched) != len(outputs):
        unbatched = sorted(set(outputs) - set(batched))
        raise RequestError(f"outputs {unbatched} have no batch dimension of {rows}: ask in columnar format "
                           f"('inputs')")
    values = {name: _json_value(name, array) for name, array in batched.items()}
    if len(values) == 1:
        return next(iter(values.values()))
    return [{name: value[row] for name, value in values.items()} for row in range(rows)]


# ------------------------------------------------------------------ HTTP
def make_app(repository: ModelRepository):
    """The Starlette application answering TensorFlow Serving's REST API from `repository`."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def answer(handler):
        async def endpoint(request: Request):
            try:
                body = None
                if request.method == "POST":
                    try:
                        body = await request.json()
                    except ValueError as error:
                        raise RequestError(f"the request body is not JSON: {error}") from None
                return JSONResponse(await run_in_threadpool(handler, request.path_params, body))
            except RequestError as error:
                return JSONResponse({"error": str(error)}, status_code=error.status)
            except Exception as error:  # the server stays up; the client learns what failed
                log.exception("request failed")
                return JSONResponse({"error": f"{type(error).__name__}: {error}"}, status_code=500)
        return endpoint

    def status(params, _):
        return repository.status(params["name"], params.get("version"))

    def metadata(params, _):
        return repository.metadata(params["name"], params.get("version"))

    def run(params, body):
        """``NAME:predict`` (``call`` = the name) or ``NAME/versions/V:predict`` (``call`` = the version)."""
        target, _, verb = params["call"].partition(":")
        if verb != "predict":
            raise RequestError(f"unknown method ':{verb}' (this server answers ':predict')", 404)
        name, version = (params["name"], target) if "name" in params else (target, None)
        return predict(repository.get(name, version), body)

    routes = [
        Route("/v1/models/{name}/versions/{call}", answer(run), methods=["POST"]),
        Route("/v1/models/{name}/versions/{version}/metadata", answer(metadata), methods=["GET"]),
        Route("/v1/models/{name}/versions/{version}", answer(status), methods=["GET"]),
        Route("/v1/models/{name}/metadata", answer(metadata), methods=["GET"]),
        Route("/v1/models/{call}", answer(run), methods=["POST"]),
        Route("/v1/models/{name}", answer(status), methods=["GET"]),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        repository.stop()

    return Starlette(routes=routes, lifespan=lifespan)


def serve(base_path: str | os.PathLike, host: str = "127.0.0.1", port: int = 8501,
          poll_seconds: float = 2.0) -> None:
    """Load `base_path`, start polling it, and answer HTTP on host:port until interrupted."""
    import uvicorn

    repository = ModelRepository(base_path, poll_seconds)
    repository.start()
    if not repository.names:
        log.warning("no model under %s yet: waiting for <name>/<version>/saved_model.pb", base_path)
    uvicorn.run(make_app(repository), host=host, port=port, log_level="warning")
