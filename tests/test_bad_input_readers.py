"""Every reader against the same bad inputs: a `DataError` naming the file (and the line
where there is one), or the documented repair — never an error from inside TensorFlow.

Set ``SEQKERAS_BAD_INPUT_REPORT=path.jsonl`` to record each outcome (the closing-note
table is made from it)."""

from __future__ import annotations

import gzip
import json
import os

import pytest

from seqkeras.data import (DataError, conll_sentences, interaction_log, labelled_text, parallel_lines,
                           text_characters, text_lines, time_series_csv, ts_series)

GOOD = {
    "text_lines": "one line\nanother line\n",
    "text_characters": "abc\ndef\n",
    "labelled_text": "sentence\tlabel\ngood film\t1\nbad film\t0\n",
    "conll_sentences": "EU B-ORG\nrejects O\n\nGerman B-MISC\n",
    "parallel_lines": "ein Haus\nzwei Hunde\n",
    "time_series_csv": '"time","x"\n"2020-01-01",1.5\n"2020-01-02",2.5\n',
    "interaction_log": "1\t10\t5\t100\n1\t11\t3\t200\n2\t10\t4\t150\n",
    "ts_series": "@problemName t\n@dimensions 2\n@equalLength false\n@missing false\n@classLabel true a b\n"
                 "@data\n1.0,2.0:3.0,4.0:a\n5.0:6.0:b\n",
}

# reader → (bad case → (file text or bytes, the line the error must name or None)).
BAD = {
    "text_lines": {"invalid UTF-8": (b"fine\n\xff\xfe bad\n", 2), "empty file": (b"", None)},
    "text_characters": {"invalid UTF-8": (b"fine\n\xff bad\n", 2), "empty file": (b"", None)},
    "labelled_text": {"missing column": ("sentence\tlabel\ngood film\t1\nno label here\n", 3),
                      "empty file": ("", None), "invalid UTF-8": (b"sentence\tlabel\ngood\t1\n\xff\t0\n", 3)},
    "conll_sentences": {"missing column": ("EU B-ORG\nrejects\n", 2), "empty file": ("", None),
                        "invalid UTF-8": (b"EU B-ORG\n\xff O\n", 2)},
    "parallel_lines": {"different lengths": ("one line only\n", 2), "empty file": ("", None)},
    "time_series_csv": {"non-numeric value": ('"time","x"\n"2020-01-01",1.5\n"2020-01-02",abc\n', 3),
                        "missing value": ('"time","x"\n"2020-01-01",1.5\n"2020-01-02",\n', 3),
                        "missing column": ('"time","x"\n"2020-01-01"\n', 2), "empty file": ("", None)},
    "interaction_log": {"bad line": ("1\t10\t5\t100\n1\tx\t3\t200\n", 2), "missing column": ("1\t10\n", 1),
                        "empty file": ("", None)},
    "ts_series": {"bad line": ("@problemName t\n@dimensions 2\n@classLabel true a b\n@data\n1.0,2.0:a\n", 5),
                  "empty file": ("", None)},
}

# Cases every reader meets.
COMMON = {
    "truncated gzip": "truncated",
    "CRLF and BOM": "crlf_bom",
}


def _read(reader, path, tmp_path):
    """Run `reader` on `path` to the end (the errors of a lazy dataset surface here)."""
    if reader == "text_lines":
        dataset = text_lines(path, encoding_errors="strict")
    elif reader == "text_characters":
        dataset = text_characters(path, encoding_errors="strict")
    elif reader == "labelled_text":
        dataset = labelled_text(path, encoding_errors="strict")
    elif reader == "conll_sentences":
        dataset = conll_sentences(path, format="conll2003", token_column=0, tag_column=1, encoding_errors="strict")
    elif reader == "parallel_lines":
        other = tmp_path / "other.txt"
        other.write_text(GOOD["parallel_lines"], encoding="utf-8")
        dataset = parallel_lines(other, path)
    elif reader == "time_series_csv":
        dataset = time_series_csv(path, "time", ["x"])
    elif reader == "interaction_log":
        dataset = interaction_log(path)
    else:
        dataset = ts_series(path)
    return list(dataset.as_numpy_iterator())


def _plain(value):
    """Nested NumPy values → nested Python lists (comparable with ==)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value.tolist() if hasattr(value, "tolist") else value


def _record(reader, case, outcome):
    report = os.environ.get("SEQKERAS_BAD_INPUT_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as out:
            out.write(json.dumps({"reader": reader, "input": case, "outcome": outcome}) + "\n")


@pytest.mark.parametrize("reader, case", [(r, c) for r, cases in BAD.items() for c in cases])
def test_bad_input_is_a_data_error_naming_file_and_line(reader, case, tmp_path):
    content, line = BAD[reader][case]
    path = tmp_path / "input.txt"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(DataError) as raised:
        _read(reader, path, tmp_path)
    error = raised.value
    assert error.path is not None and os.path.basename(error.path) == "input.txt", str(error)
    if line is not None:
        assert error.line == line, str(error)
    _record(reader, case, f"DataError: {error}".replace(str(tmp_path) + "/", ""))


@pytest.mark.parametrize("reader, case", [(r, c) for r in GOOD for c in COMMON])
def test_truncated_gzip_is_an_error_and_crlf_bom_read_like_the_clean_file(reader, case, tmp_path):
    good = GOOD[reader].encode("utf-8")
    if COMMON[case] == "truncated":
        path = tmp_path / "input.txt.gz"
        path.write_bytes(gzip.compress(good)[:-12])
        with pytest.raises(DataError) as raised:
            _read(reader, path, tmp_path)
        assert "input.txt.gz" in str(raised.value)
        _record(reader, case, f"DataError: {raised.value}".replace(str(tmp_path) + "/", ""))
        return
    clean, messy = tmp_path / "clean.txt", tmp_path / "messy.txt"
    clean.write_bytes(good)
    messy.write_bytes(b"\xef\xbb\xbf" + good.replace(b"\n", b"\r\n"))
    assert _plain(_read(reader, messy, tmp_path)) == _plain(_read(reader, clean, tmp_path))
    _record(reader, case, "read as the clean file (BOM dropped, CRLF → LF)")
