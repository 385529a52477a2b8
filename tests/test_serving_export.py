"""Shared export machinery: atomic versioned writes, warmup records, saved_model_cli."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from seqkeras import serving
from seqkeras.serving import warmup as warmup_lib


class Doubler(tf.Module):
    def __init__(self):
        super().__init__()
        self.scale = tf.Variable(2.0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def double(self, x):
        return {"y": x * self.scale}


def _write(base, **kwargs):
    module = Doubler()
    return serving.write_versioned(module, base, "doubler", signatures={"serving_default": module.double},
                                   **kwargs)


def test_auto_versions_increment_and_explicit_versions_are_immutable(tmp_path):
    assert _write(tmp_path).name == "1"
    assert _write(tmp_path).name == "2"
    assert _write(tmp_path, version=10).name == "10"
    assert _write(tmp_path).name == "11"
    with pytest.raises(FileExistsError):
        _write(tmp_path, version=2)
    assert serving.list_versions(tmp_path / "doubler") == [1, 2, 10, 11]
    assert sorted(os.listdir(tmp_path / "doubler")) == ["1", "10", "11", "2"]
    loaded = tf.saved_model.load(str(tmp_path / "doubler" / "11"))
    out = loaded.signatures["serving_default"](x=tf.constant([1.5]))
    np.testing.assert_allclose(out["y"].numpy(), [3.0])


@pytest.mark.parametrize("version", ["auto", 3])
def test_a_crash_mid_write_leaves_no_version_and_no_temporary(tmp_path, version):
    def build(directory):
        tf.saved_model.save(Doubler(), directory)
        with open(os.path.join(directory, "half_written"), "w") as f:
            f.write("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        serving.write_versioned(build, tmp_path, "doubler", version=version)
    assert os.listdir(tmp_path / "doubler") == []
    # A failing validation aborts the export the same way.
    with pytest.raises(ValueError, match="bad export"):
        _write(tmp_path, validate=lambda d: (_ for _ in ()).throw(ValueError("bad export")))
    assert os.listdir(tmp_path / "doubler") == []
    assert _write(tmp_path).name == "1"


def test_crash_during_rename_is_atomic(tmp_path, monkeypatch):
    def failing_rename(src, dst):
        raise OSError("power cut")

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(OSError, match="power cut"):
        _write(tmp_path, version=1)
    assert os.listdir(tmp_path / "doubler") == []


def test_auto_retries_when_another_writer_takes_the_version(tmp_path, monkeypatch):
    from seqkeras.serving import versioning

    real_rename = os.rename

    def racing_rename(src, dst):  # another exporter publishes the same number first
        if not os.path.exists(dst) and str(dst).endswith(os.sep + "1"):
            os.makedirs(os.path.join(dst, "other"))
        return real_rename(src, dst)

    monkeypatch.setattr(versioning.os, "rename", racing_rename)
    assert _write(tmp_path).name == "2"
    assert sorted(os.listdir(tmp_path / "doubler")) == ["1", "2"]


def test_killed_export_leftovers_are_hidden_and_cleanable(tmp_path):
    stale = tmp_path / "doubler" / ".tmp-1-deadbeef"
    stale.mkdir(parents=True)
    assert serving.next_version(tmp_path / "doubler") == 1
    assert serving.clean_stale_temporaries(tmp_path / "doubler") == [stale]
    assert not stale.exists()


EXPORT = textwrap.dedent("""
    import pathlib, sys, time
    import tensorflow as tf
    from seqkeras import serving

    base, pause = sys.argv[1], float(sys.argv[2])

    class Doubler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def double(self, x):
            return {"y": 2 * x}

    def build(directory):
        module = Doubler()
        tf.saved_model.save(module, directory, signatures={"serving_default": module.double})
        print("WRITTEN", flush=True)
        time.sleep(pause)      # a slow export: the test kills it here, after files were written

    print(serving.write_versioned(build, base, "doubler").name, flush=True)
""")


def test_an_export_killed_mid_write_leaves_no_version(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", EXPORT, str(tmp_path), "60"], stdout=subprocess.PIPE,
                               text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert process.stdout.readline().strip() == "WRITTEN"
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    model_dir = tmp_path / "doubler"
    assert serving.list_versions(model_dir) == []
    leftovers = [p.name for p in model_dir.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".tmp-")      # hidden from TF Serving
    assert serving.clean_stale_temporaries(model_dir) and not list(model_dir.iterdir())


def test_two_processes_exporting_one_name_make_two_complete_versions(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    processes = [subprocess.Popen([sys.executable, "-c", EXPORT, str(tmp_path), "1"], stdout=subprocess.PIPE,
                                  text=True, env=env) for _ in range(2)]
    names = [process.communicate(timeout=300)[0].split()[-1] for process in processes]
    assert all(process.returncode == 0 for process in processes)
    assert sorted(names) == ["1", "2"] and serving.list_versions(tmp_path / "doubler") == [1, 2]
    for version in names:
        loaded = tf.saved_model.load(str(tmp_path / "doubler" / version))
        assert loaded.signatures["serving_default"](x=tf.constant([3.0]))["y"].numpy().tolist() == [6.0]


@pytest.mark.parametrize("kwargs, argument", [
    ({"version": -1}, "version"), ({"version": "latest"}, "version"), ({"version": True}, "version"),
])
def test_invalid_version_is_rejected(tmp_path, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        _write(tmp_path, **kwargs)


@pytest.mark.parametrize("name", ["", "a/b", "..", None])
def test_invalid_model_name_is_rejected(tmp_path, name):
    with pytest.raises(ValueError, match="model_name"):
        serving.write_versioned(Doubler(), tmp_path, name)


def test_warmup_records_round_trip(tmp_path):
    requests = [
        serving.WarmupRequest("generate", {"prompt": ["the cat", ""], "max_new_tokens": np.int32(5),
                                           "temperature": np.float32(0.5)}),
        ("serving_default", {"x": np.array([1.0, 2.0], "float32")}),
        {"signature_name": "score", "inputs": {"text": ["é ü"]}},
    ]
    path = _write(tmp_path, warmup_requests=requests)
    records = serving.read_warmup_requests(path)
    assert [name for name, _ in records] == ["doubler"] * 3
    assert [r.signature_name for _, r in records] == ["generate", "serving_default", "score"]
    generate = records[0][1].inputs
    assert generate["prompt"].tolist() == [b"the cat", b""]
    assert generate["max_new_tokens"].dtype == np.int32 and generate["max_new_tokens"] == 5
    assert generate["temperature"].dtype == np.float32
    assert records[2][1].inputs["text"].tolist() == ["é ü".encode()]
    # The file is a TFRecord of exactly these protos, in wire format.
    raw = [r.numpy() for r in tf.data.TFRecordDataset(str(path / "assets.extra" / "tf_serving_warmup_requests"))]
    fields = warmup_lib.parse_fields(raw[1])
    assert [n for n, _ in fields] == [6]  # PredictionLog.predict_log
    request = warmup_lib.parse_fields(dict(warmup_lib.parse_fields(fields[0][1]))[1])
    spec = dict(warmup_lib.parse_fields(dict(request)[1]))
    assert spec == {1: b"doubler", 3: b"serving_default"}
    # The warmup requests run against the exported signature.
    out = serving.run_warmup_requests(tf.saved_model.load(str(path)), [records[1]])
    np.testing.assert_allclose(out["serving_default"]["y"], [2.0, 4.0])


def test_warmup_records_parse_with_tensorflow_serving_protos_when_installed():
    prediction_log_pb2 = pytest.importorskip("tensorflow_serving.apis.prediction_log_pb2")
    record = warmup_lib.encode_prediction_log("lm", "generate", {"prompt": ["hi"], "seed": np.int32(3)})
    log = prediction_log_pb2.PredictionLog.FromString(record)
    request = log.predict_log.request
    assert request.model_spec.name == "lm" and request.model_spec.signature_name == "generate"
    assert tf.make_ndarray(request.inputs["prompt"]).tolist() == [b"hi"]
    assert tf.make_ndarray(request.inputs["seed"]) == 3


def test_too_many_warmup_requests_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="1000"):
        serving.write_warmup_requests(tmp_path, "m", [("s", {"x": 1})] * 1001)


def test_saved_model_cli_show_lists_the_signature(tmp_path):
    path = _write(tmp_path)
    text = serving.saved_model_cli_show(path)
    assert "signature_def['serving_default']" in text and "inputs['x']" in text
    with pytest.raises(FileNotFoundError):
        serving.saved_model_cli_show(tmp_path)
