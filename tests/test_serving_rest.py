"""`seqkeras serve`: TensorFlow Serving's REST API over real HTTP, answers checked against
calling the SavedModel directly and against the examples of Serving's REST documentation."""

from __future__ import annotations

import base64
import threading
import time

import pytest
import tensorflow as tf

from rest_client import call, served
from seqkeras.serving import write_versioned
from seqkeras.serving.rest import ModelRepository


class HalfPlus(tf.Module):
    """TF Serving's documented example model: y = 0.5 x + offset."""

    def __init__(self, offset):
        super().__init__()
        self.offset = offset

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve(self, x):
        return {"y": 0.5 * x + self.offset}


class Signals(tf.Module):
    """The multi-input row-format example of the REST documentation, plus strings and scalars."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="tag"),
                                  tf.TensorSpec([None, 5], tf.int32, name="signal"),
                                  tf.TensorSpec([None, 2, 2], tf.float32, name="sensor")])
    def rows(self, tag, signal, sensor):
        return {"tag_upper": tf.strings.upper(tag), "signal_sum": tf.reduce_sum(signal, axis=1),
                "sensor_trace": tf.linalg.trace(sensor)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="data"),
                                  tf.TensorSpec([], tf.int32, name="repeat")])
    def blobs(self, data, repeat):
        return {"data_bytes": tf.strings.join([data] * 2), "length": tf.strings.length(data) * repeat,
                "ratio": tf.cast(tf.strings.length(data), tf.float32) / 0.0 * 0.0}


class Checked(tf.Module):
    """A signature that refuses some inputs with a `tf.debugging` assertion, as exports do."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve(self, x):
        with tf.control_dependencies([tf.debugging.assert_positive(x, message="every x must be positive")]):
            return {"log": tf.math.log(x)}


def _save(module, path, signatures):
    tf.saved_model.save(module, str(path), signatures=signatures)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("saved_models")
    half = HalfPlus(2.0)
    _save(half, base / "half_plus_two" / "1", {"serving_default": half.serve})
    signals = Signals()
    _save(signals, base / "signals" / "7", {"serving_default": signals.rows, "blobs": signals.blobs})
    checked = Checked()
    _save(checked, base / "checked" / "1", {"serving_default": checked.serve})
    (base / "half_plus_two" / ".tmp-2-abc").mkdir()   # an export in progress: ignored
    with served(base) as server:
        yield {**server, "base": base}


def test_the_documented_half_plus_two_request_works_unchanged(server):
    # https://www.tensorflow.org/tfx/serving/docker: the same request, the same answer.
    assert call(server, "/v1/models/half_plus_two:predict", {"instances": [1.0, 2.0, 5.0]}) == \
        (200, {"predictions": [2.5, 3.0, 4.5]})
    assert call(server, "/v1/models/half_plus_two/versions/1:predict", {"inputs": [1.0, 2.0]}) == \
        (200, {"outputs": [2.5, 3.0]})


def test_status_and_metadata_as_tensorflow_serving_writes_them(server):
    assert call(server, "/v1/models/half_plus_two") == (200, {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]})
    status, metadata = call(server, "/v1/models/signals/versions/7/metadata")
    assert status == 200 and metadata["model_spec"] == {"name": "signals", "signature_name": "", "version": "7"}
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert sorted(signatures) == ["blobs", "serving_default"]
    sensor = signatures["serving_default"]["inputs"]["sensor"]
    assert sensor["dtype"] == "DT_FLOAT" and [int(d["size"]) for d in sensor["tensor_shape"]["dim"]] == [-1, 2, 2]


def test_row_and_columnar_answers_equal_calling_the_saved_model(server):
    instances = [{"tag": "foo", "signal": [1, 2, 3, 4, 5], "sensor": [[1, 2], [3, 4]]},
                 {"tag": "bar", "signal": [3, 4, 1, 2, 5], "sensor": [[4, 5], [6, 8]]}]
    loaded = tf.saved_model.load(str(server["base"] / "signals" / "7"))
    direct = loaded.signatures["serving_default"](
        tag=tf.constant(["foo", "bar"]), signal=tf.constant([i["signal"] for i in instances]),
        sensor=tf.constant([i["sensor"] for i in instances], tf.float32))
    status, rows = call(server, "/v1/models/signals:predict", {"instances": instances})
    assert status == 200
    assert rows["predictions"] == [
        {"tag_upper": t.decode(), "signal_sum": int(s), "sensor_trace": float(r)}
        for t, s, r in zip(direct["tag_upper"].numpy(), direct["signal_sum"].numpy(), direct["sensor_trace"].numpy())]
    columns = {name: [i[name] for i in instances] for name in ("tag", "signal", "sensor")}
    status, answer = call(server, "/v1/models/signals:predict", {"inputs": columns})
    assert status == 200 and answer["outputs"] == {
        "tag_upper": ["FOO", "BAR"], "signal_sum": [15, 15], "sensor_trace": [5.0, 12.0]}


def test_binary_strings_travel_as_b64_and_nan_is_null(server):
    blob = bytes([0, 255, 128, 10])
    body = {"signature_name": "blobs",
            "instances": [{"data": {"b64": base64.b64encode(blob).decode()}, "repeat": 3},
                          {"data": "ab", "repeat": 3}]}
    status, answer = call(server, "/v1/models/signals:predict", body)
    assert status == 200
    first, second = answer["predictions"]
    assert base64.b64decode(first["data_bytes"]["b64"]) == blob * 2 and first["length"] == 12
    assert base64.b64decode(second["data_bytes"]["b64"]) == b"abab" and second["ratio"] is None


@pytest.mark.parametrize("path, body, status, fragment", [
    ("/v1/models/nope:predict", {"instances": [1.0]}, 404, "Servable not found"),
    ("/v1/models/half_plus_two/versions/3:predict", {"instances": [1.0]}, 404, "Specific(half_plus_two, 3)"),
    ("/v1/models/half_plus_two:predict", {"instances": [1.0], "signature_name": "other"}, 404, "other"),
    ("/v1/models/half_plus_two:predict", b"{not json", 400, "not JSON"),
    ("/v1/models/half_plus_two:predict", {"instances": [1.0], "inputs": [1.0]}, 400, "exactly one of"),
    ("/v1/models/half_plus_two:predict", {"instances": [[1.0], [2.0]]}, 400, "rank 1"),
    ("/v1/models/half_plus_two:predict", {"instances": ["a"]}, 400, "input 'x'"),
    ("/v1/models/signals:predict", {"instances": [{"tag": "a", "signal": [1, 2], "sensor": [[1, 2], [3, 4]]}]},
     400, "expects shape"),
    ("/v1/models/signals:predict", {"instances": [{"tag": "a"}]}, 400, "missing ['sensor', 'signal']"),
    ("/v1/models/signals:predict", {"inputs": {"tag": ["a", "b"], "signal": [[1, 2, 3, 4, 5], [1]],
                                               "sensor": [[[1, 2], [3, 4]]] * 2}}, 400, "ragged"),
    ("/v1/models/half_plus_two:predict", {"instances": ["a"]}, 400, "expects numbers"),
    ("/v1/models/signals:predict", {"signature_name": "blobs",
                                    "instances": [{"data": "a", "repeat": 1}, {"data": "b", "repeat": 2}]},
     400, "same value"),
    ("/v1/models/signals:predict", {"signature_name": "blobs", "instances": [{"data": {"b64": "!!"}, "repeat": 1}]},
     400, "base64"),
    ("/v1/models/half_plus_two:classify", {"instances": [1.0]}, 404, "':classify'"),
    ("/v1/models/checked:predict", {"instances": [1.0, -1.0]}, 400, "every x must be positive"),
])
def test_bad_requests_are_json_errors_with_the_right_status(server, path, body, status, fragment):
    got, answer = call(server, path, body)
    assert got == status and set(answer) == {"error"} and fragment in answer["error"], answer
    assert call(server, "/v1/models/half_plus_two:predict", {"instances": [1.0]}) == (200, {"predictions": [2.5]})


def test_empty_batch_is_an_empty_answer(server):
    assert call(server, "/v1/models/half_plus_two:predict", {"instances": []}) == (200, {"predictions": []})


def test_a_new_version_is_switched_to_without_a_failed_request(server, tmp_path):
    errors, answers, stop = [], set(), threading.Event()

    def client():
        while not stop.is_set():
            status, answer = call(server, "/v1/models/half_plus_two:predict", {"instances": [2.0]})
            if status != 200:
                errors.append(answer)
            else:
                answers.add(answer["predictions"][0])

    threads = [threading.Thread(target=client) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        half = HalfPlus(3.0)
        write_versioned(lambda path: _save(half, path, {"serving_default": half.serve}),
                        server["base"], "half_plus_two", version=2)
        deadline = time.time() + 60
        while call(server, "/v1/models/half_plus_two")[1]["model_version_status"][0]["version"] != "2":
            assert time.time() < deadline, "version 2 was not picked up"
            time.sleep(0.1)
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert errors == [] and answers == {3.0, 4.0}
    assert call(server, "/v1/models/half_plus_two:predict", {"instances": [2.0]}) == (200, {"predictions": [4.0]})


def test_a_version_that_does_not_load_leaves_the_previous_one_serving(tmp_path):
    half = HalfPlus(2.0)
    _save(half, tmp_path / "m" / "1", {"serving_default": half.serve})
    (tmp_path / "m" / "2").mkdir()
    (tmp_path / "m" / "2" / "saved_model.pb").write_bytes(b"not a SavedModel")
    repository = ModelRepository(tmp_path)
    assert repository.refresh() == [("m", 1)]
    assert repository.status("m")["model_version_status"][0]["version"] == "1"
    assert repository.refresh() == []      # the broken version is not retried every poll


def test_the_command_refuses_a_missing_base_path(tmp_path):
    from seqkeras import cli

    with pytest.raises(SystemExit, match="no such directory"):
        cli.main(["serve", str(tmp_path / "missing")])
