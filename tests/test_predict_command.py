"""`seqkeras predict`: every signature shape and dtype, text and JSON lines inputs, clear errors.

The SavedModels are tiny `tf.Module`s built here; expected values come from NumPy.
"""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from seqkeras import cli

PREDICT_PY = pathlib.Path(__file__).resolve().parents[1] / "seqkeras" / "pipeline" / "commands" / "predict.py"


class TextModel(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        return {"length": tf.strings.length(text), "upper": tf.strings.upper(text), "count": tf.size(text)}


class RatioModel(tf.Module):
    """An output that is NaN or infinite for some inputs (as a perplexity of nothing is)."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve(self, x):
        return {"inverse": 1.0 / x, "ratio": x / x}


class IdsModel(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="ids"),
                                  tf.TensorSpec([], tf.int32, name="offset")])
    def shift(self, ids, offset):
        return {"shifted": ids + offset, "total": tf.reduce_sum(ids, axis=1), "nonzero": ids != 0}


class FramesModel(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, None, None], tf.float32, name="frames")])
    def pool(self, frames):
        return {"mean": tf.reduce_mean(frames, axis=1), "energy": tf.reduce_sum(frames * frames, axis=[1, 2])}


class TokensModel(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.string, name="tokens")])
    def tag_tokens(self, tokens):
        return {"joined": tf.strings.reduce_join(tokens, axis=1, separator="|"),
                "words": tf.reduce_sum(tf.cast(tokens != "", tf.int32), axis=1)}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    base = tmp_path_factory.mktemp("saved_models")
    paths = {}
    for name, module, signatures in (
            ("text", TextModel(), lambda m: {"serving_default": m.serve}),
            ("ratio", RatioModel(), lambda m: {"serving_default": m.serve}),
            ("ids", IdsModel(), lambda m: {"serving_default": m.shift}),
            ("frames", FramesModel(), lambda m: {"serving_default": m.pool}),
            ("tokens", TokensModel(), lambda m: {"tag_tokens": m.tag_tokens})):
        # A model directory with one integer version, as `resolve_saved_model` expects.
        tf.saved_model.save(module, str(base / name / "1"), signatures=signatures(module))
        paths[name] = str(base / name)
    return paths


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def _jsonl(path, objects):
    return _write(path, [json.dumps(o) for o in objects])


def _predict(argv, capsys):
    assert cli.main(["predict", *argv]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _pad(rows, value=0):
    width = max(len(r) for r in rows)
    return np.array([list(r) + [value] * (width - len(r)) for r in rows])


def test_text_lines_feed_the_string_input(models, tmp_path, capsys):
    lines = ["hello", "", "Ünïcode ok", "a b c"]
    inputs = _write(tmp_path / "inputs.txt", lines)
    records = _predict([models["text"], inputs, "--batch-size", "3"], capsys)
    assert [r["input"] for r in records] == lines
    assert [r["upper"] for r in records] == ["".join(c.upper() if c.isascii() else c for c in s) for s in lines]
    assert [r["length"] for r in records] == [len(s.encode("utf-8")) for s in lines]
    # `count` is not batched: each line repeats its batch's value (batches of 3, then 1).
    assert [r["count"] for r in records] == [3, 3, 3, 1]


def test_text_model_takes_jsonl_too_and_writes_output_file(models, tmp_path, capsys):
    inputs = _jsonl(tmp_path / "inputs.jsonl", [{"text": "ab"}, {"text": "xyz"}])
    output = tmp_path / "out.jsonl"
    assert cli.main(["predict", models["text"], inputs, "--output", str(output)]) == 0
    assert capsys.readouterr().out == ""
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert records == [{"input": {"text": "ab"}, "length": 2, "upper": "AB", "count": 2},
                       {"input": {"text": "xyz"}, "length": 3, "upper": "XYZ", "count": 2}]


def test_int_matrix_padded_with_scalar_from_arg_or_json(models, tmp_path, capsys):
    rows = [[1, 2, 3], [4], [], [5, -6]]
    padded = _pad(rows)
    inputs = _jsonl(tmp_path / "ids.jsonl", [{"ids": r} for r in rows])
    records = _predict([models["ids"], inputs, "--arg", "offset=10"], capsys)
    assert [r["input"] for r in records] == [{"ids": r} for r in rows]
    np.testing.assert_array_equal([r["shifted"] for r in records], padded + 10)
    np.testing.assert_array_equal([r["total"] for r in records], padded.sum(axis=1))
    np.testing.assert_array_equal([r["nonzero"] for r in records], padded != 0)

    # The scalar from the JSON objects (same within each batch; batches are padded separately).
    objects = [{"ids": [1, 2, 3], "offset": 1}, {"ids": [4], "offset": 1}, {"ids": [7], "offset": -2}]
    inputs = _jsonl(tmp_path / "ids_offset.jsonl", objects)
    records = _predict([models["ids"], inputs, "--batch-size", "2"], capsys)
    assert [r["shifted"] for r in records] == [[2, 3, 4], [5, 1, 1], [5]]
    assert [r["total"] for r in records] == [6, 4, 7]


def test_float_frames_ragged_in_both_dimensions(models, tmp_path, capsys):
    examples = [[[1.0, 2.0], [3.0, 4.0], [0.5, -1.5]], [[2.0]], [[1.5, 2.5, 3.5]]]
    width = 3
    frames = np.zeros((len(examples), 3, width), np.float32)
    for i, example in enumerate(examples):
        for t, frame in enumerate(example):
            frames[i, t, :len(frame)] = frame
    inputs = _jsonl(tmp_path / "frames.json", [{"frames": e} for e in examples])
    records = _predict([models["frames"], inputs], capsys)
    np.testing.assert_allclose([r["mean"] for r in records], frames.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose([r["energy"] for r in records], (frames ** 2).sum(axis=(1, 2)), rtol=1e-6)


def test_string_matrix_auto_detects_jsonl_from_the_signature(models, tmp_path, capsys):
    sentences = [["The", "cat", "sat"], ["Hi"], ["a", "", "b", "c"]]
    inputs = _jsonl(tmp_path / "sentences.txt", [{"tokens": s} for s in sentences])  # .txt, still JSON lines
    records = _predict([models["tokens"], inputs, "--signature", "tag_tokens"], capsys)
    padded = _pad(sentences, "")
    assert [r["joined"] for r in records] == ["|".join(row) for row in padded]
    assert [r["words"] for r in records] == list((padded != "").sum(axis=1))


@pytest.mark.parametrize("model, lines, extra, expected", [
    ("ids", ['{"ids": [1, 2], "offest": 3}'], [],
     ["line 1", "unknown input 'offest'", "ids: int32[None, None]", "offset: int32[]"]),
    ("ids", ['{"ids": [1]}', '{"ids": [1, "two"]}'], ["--arg", "offset=0"],
     ["line 2", "input 'ids'", "int32[None, None]", '"two" is not an integer']),
    ("ids", ['{"ids": [[1, 2]]}'], ["--arg", "offset=0"],
     ["line 1", "input 'ids'", "int32[None, None]", "wrong nesting depth"]),
    ("frames", ['{"frames": [1.0, 2.0]}'], [],
     ["line 1", "input 'frames'", "float32[None, None, None]", "wrong nesting depth"]),
    ("ids", ['{"ids": [1]}', '{"ids": [1]'], ["--arg", "offset=0"], ["bad.jsonl line 2", "bad JSON"]),
    ("ids", ['{"ids": [1]}'], [], ["line 1", "missing input 'offset'", "int32[]", "--arg"]),
    ("ids", ['{"ids": [1], "offset": 1}', '{"ids": [2], "offset": 2}'], [],
     ["line 2", "input 'offset'", "same for every example"]),
    ("ids", ['{"ids": [1]}'], ["--arg", "offset=1.5"], ["--arg offset=1.5", "int32[]", "is not an integer"]),
    ("ids", ['{"ids": [1]}'], ["--arg", "ids=1"], ["--arg", "'ids'", "scalar inputs only"]),
    ("text", ['{"text": 3}'], [], ["line 1", "input 'text'", "string[None]", "not a string"]),
])
def test_bad_inputs_fail_with_a_clear_message(models, tmp_path, model, lines, extra, expected):
    inputs = _write(tmp_path / "bad.jsonl", lines)
    with pytest.raises(SystemExit) as raised:
        cli.main(["predict", models[model], inputs, *extra])
    message = str(raised.value)
    assert message.startswith("error: ")
    for fragment in expected:
        assert fragment in message, (fragment, message)


def test_a_line_that_is_not_utf8_is_an_error_naming_it(models, tmp_path):
    inputs = tmp_path / "inputs.txt"
    inputs.write_bytes(b"fine\nalso fine\nbad \xff byte\n")
    with pytest.raises(SystemExit) as raised:
        cli.main(["predict", models["text"], str(inputs)])
    assert str(raised.value) == f"error: {inputs} line 3: not UTF-8 text (byte 0xff at column 5)"


def test_crlf_lines_lose_their_line_ending(models, tmp_path, capsys):
    inputs = tmp_path / "inputs.txt"
    inputs.write_bytes(b"one\r\ntwo\r\n")
    assert [r["input"] for r in _predict([models["text"], str(inputs)], capsys)] == ["one", "two"]


def test_nan_and_infinite_outputs_are_json_null(models, tmp_path, capsys):
    inputs = _jsonl(tmp_path / "x.jsonl", [{"x": 2.0}, {"x": 0.0}])
    assert cli.main(["predict", models["ratio"], inputs]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Strict JSON: Python's json.loads would accept NaN and Infinity.
    records = [json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in {line}")) for line in lines]
    assert records == [{"input": {"x": 2.0}, "inverse": 0.5, "ratio": 1.0},
                       {"input": {"x": 0.0}, "inverse": None, "ratio": None}]


def test_text_format_is_refused_for_signatures_without_one_string_input(models, tmp_path):
    inputs = _write(tmp_path / "inputs.txt", ["1 2 3"])
    with pytest.raises(SystemExit, match="exactly one batched string.*--format jsonl"):
        cli.main(["predict", models["ids"], inputs, "--format", "text", "--arg", "offset=1"])


def test_configure_imports_nothing_heavy():
    code = (
        "import argparse, importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('predict_cmd', {str(PREDICT_PY)!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "parser = argparse.ArgumentParser(); module.configure(parser)\n"
        "args = parser.parse_args(['m', 'in.jsonl', '--format', 'jsonl', '--arg', 'k=1'])\n"
        "assert args.format == 'jsonl' and args.arg == ['k=1']\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
