"""TensorFlow Serving warmup records, written without `tensorflow-serving-api`.

TF Serving replays `assets.extra/tf_serving_warmup_requests` when it loads a version:
a TFRecord file of serialized `tensorflow.serving.PredictionLog` protos. Only the few
fields a Predict warmup needs are encoded here, by hand, in protobuf wire format
(field numbers from `tensorflow_serving/apis/*.proto`, checked against
tensorflow-serving-api 2.21)::

    PredictionLog  { PredictLog predict_log = 6; }
    PredictLog     { PredictRequest request = 1; }
    PredictRequest { ModelSpec model_spec = 1; map<string, TensorProto> inputs = 2; }
    ModelSpec      { string name = 1; string signature_name = 3; }
    map entry      { string key = 1; TensorProto value = 2; }

The `TensorProto` bytes come from `tf.make_tensor_proto(...).SerializeToString()`.
`read_warmup_requests` decodes the same fields back (for tests and inspection).
"""

from __future__ import annotations

import os
from typing import Iterable, Mapping, NamedTuple

import numpy as np
import tensorflow as tf

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
# TF Serving reads at most this many warmup records.
MAX_WARMUP_RECORDS = 1000

_LENGTH_DELIMITED = 2
_PREDICTION_LOG_PREDICT_LOG = 6
_PREDICT_LOG_REQUEST = 1
_REQUEST_MODEL_SPEC = 1
_REQUEST_INPUTS = 2
_MODEL_SPEC_NAME = 1
_MODEL_SPEC_SIGNATURE_NAME = 3
_MAP_KEY = 1
_MAP_VALUE = 2


class WarmupRequest(NamedTuple):
    """One Predict request: the signature it calls and its named inputs."""

    signature_name: str
    inputs: Mapping[str, object]


# -- wire format ---------------------------------------------------------------------
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (strings, bytes, embedded messages)."""
    return _varint((number << 3) | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint in protobuf message")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def parse_fields(data: bytes) -> list[tuple[int, bytes | int]]:
    """Decode one protobuf message into ``(field number, value)`` pairs, in order.

    Length-delimited values come back as bytes, varints as ints; fixed-width
    fields as their raw bytes.
    """
    fields, pos = [], 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        fields.append((number, value))
    return fields


# -- PredictionLog -------------------------------------------------------------------
def _tensor_proto_bytes(value) -> bytes:
    if isinstance(value, (tf.Tensor, tf.Variable)):
        value = value.numpy()
    if isinstance(value, str):
        value = value.encode("utf-8")
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        value = [v.encode("utf-8") for v in value]
    return tf.make_tensor_proto(value).SerializeToString()


def encode_prediction_log(model_name: str, signature_name: str, inputs: Mapping[str, object]) -> bytes:
    """Serialize ``PredictionLog{predict_log{request{model_spec, inputs}}}``.

    Args:
        model_name: `ModelSpec.name` (the name TF Serving serves the model under).
        signature_name: the signature the request calls.
        inputs: input name → value (anything `tf.make_tensor_proto` takes; Python
            str is encoded as UTF-8). Give each value the dtype the signature
            expects (e.g. ``np.int32(5)``, ``np.float32(0.0)``).
    """
    spec = _field(_MODEL_SPEC_NAME, model_name.encode("utf-8"))
    spec += _field(_MODEL_SPEC_SIGNATURE_NAME, signature_name.encode("utf-8"))
    request = _field(_REQUEST_MODEL_SPEC, spec)
    for name in sorted(inputs):
        entry = _field(_MAP_KEY, name.encode("utf-8")) + _field(_MAP_VALUE, _tensor_proto_bytes(inputs[name]))
        request += _field(_REQUEST_INPUTS, entry)
    predict_log = _field(_PREDICT_LOG_REQUEST, request)
    return _field(_PREDICTION_LOG_PREDICT_LOG, predict_log)


def decode_prediction_log(record: bytes) -> tuple[str, WarmupRequest]:
    """Inverse of `encode_prediction_log`: ``(model_name, WarmupRequest)`` with numpy inputs."""
    def only(fields, number, what):
        values = [v for n, v in fields if n == number]
        if len(values) != 1:
            raise ValueError(f"expected one {what} field, found {len(values)}")
        return values[0]

    predict_log = only(parse_fields(record), _PREDICTION_LOG_PREDICT_LOG, "PredictionLog.predict_log")
    request = parse_fields(only(parse_fields(predict_log), _PREDICT_LOG_REQUEST, "PredictLog.request"))
    spec = parse_fields(only(request, _REQUEST_MODEL_SPEC, "PredictRequest.model_spec"))
    model_name = only(spec, _MODEL_SPEC_NAME, "ModelSpec.name").decode("utf-8")
    signature = dict(spec).get(_MODEL_SPEC_SIGNATURE_NAME, b"").decode("utf-8")
    inputs = {}
    for number, entry in request:
        if number != _REQUEST_INPUTS:
            continue
        entry = dict(parse_fields(entry))
        proto = tf.make_tensor_proto(0)
        proto.ParseFromString(entry.get(_MAP_VALUE, b""))
        inputs[entry.get(_MAP_KEY, b"").decode("utf-8")] = tf.make_ndarray(proto)
    return model_name, WarmupRequest(signature or "serving_default", inputs)


def _as_request(request) -> WarmupRequest:
    if isinstance(request, WarmupRequest):
        return request
    if isinstance(request, Mapping):
        return WarmupRequest(request.get("signature_name", "serving_default"), request["inputs"])
    signature_name, inputs = request
    return WarmupRequest(signature_name, inputs)


def write_warmup_requests(saved_model_dir: str | os.PathLike, model_name: str,
                          requests: Iterable) -> str:
    """Write ``<saved_model_dir>/assets.extra/tf_serving_warmup_requests``.

    Args:
        saved_model_dir: a SavedModel directory (a version directory).
        model_name: the name TF Serving serves the model under.
        requests: `WarmupRequest`s, ``(signature_name, inputs)`` pairs or dicts
            ``{"signature_name": ..., "inputs": {...}}``; at most 1000.

    Returns:
        The path of the written file.
    """
    requests = [_as_request(r) for r in requests]
    if len(requests) > MAX_WARMUP_RECORDS:
        raise ValueError(f"TF Serving reads at most {MAX_WARMUP_RECORDS} warmup requests, "
                         f"received {len(requests)}")
    directory = os.path.join(os.fspath(saved_model_dir), WARMUP_DIR)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            writer.write(encode_prediction_log(model_name, request.signature_name, request.inputs))
    return path


def read_warmup_requests(saved_model_dir: str | os.PathLike) -> list[tuple[str, WarmupRequest]]:
    """Read back ``assets.extra/tf_serving_warmup_requests``: ``[(model_name, request)]``."""
    path = os.path.join(os.fspath(saved_model_dir), WARMUP_DIR, WARMUP_FILE)
    return [decode_prediction_log(r.numpy()) for r in tf.data.TFRecordDataset(path)]


def run_warmup_requests(loaded, requests: Iterable) -> dict:
    """Call each request's signature on a loaded SavedModel; returns the last outputs per signature.

    A cheap check, before publishing a version, that every warmup request is valid.
    """
    results = {}
    for item in requests:
        request = item[1] if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], WarmupRequest) \
            else _as_request(item)
        function = loaded.signatures[request.signature_name]
        inputs = {k: tf.constant(np.asarray(v) if not isinstance(v, str) else v) for k, v in request.inputs.items()}
        results[request.signature_name] = {k: v.numpy() for k, v in function(**inputs).items()}
    return results
