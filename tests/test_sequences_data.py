"""The `.ts` reader, the stratified folds and the frame-labelling streams."""

from __future__ import annotations

import numpy as np
import pytest

from seqkeras.data import DataError, ts_header, ts_series
from seqkeras.sequences.data import Utterances, build_data, make_streams, random_streams, stratified_folds
from seqkeras.sequences.spec import DataSpec, Spec

HEADER = """# comment
#
@problemName Tiny
@dimensions 2
@equalLength false
@classLabel true x y
@data
"""
GOOD = HEADER + "1,2,3:4,5,6:x\n\n0.5,-1e-2:7,8:y\n# a comment between cases\n 9 :10:x\n"


def write(tmp_path, text, name="tiny.ts"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reader_reads_frames_time_major_with_labels(tmp_path):
    path = write(tmp_path, GOOD)
    header = ts_header(path)
    assert header.problem == "Tiny" and header.dimensions == 2 and header.class_labels == ("x", "y")
    assert header.cases == 3 and header.lengths == (3, 2, 1) and header.data_line == 7
    cases = list(ts_series(path).as_numpy_iterator())
    assert [c["label"] for c in cases] == [b"x", b"y", b"x"]
    np.testing.assert_array_equal(cases[0]["frames"], [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_allclose(cases[1]["frames"], [[0.5, 7], [-0.01, 8]])
    assert cases[0]["frames"].dtype == np.float32 and cases[2]["frames"].shape == (1, 2)


def test_missing_values_where_the_header_allows_them(tmp_path):
    path = write(tmp_path, HEADER.replace("@data", "@missing true\n@data") + "1,?:3,4:y\n")
    (case,) = ts_series(path).as_numpy_iterator()
    assert np.isnan(case["frames"][1, 0]) and case["frames"][1, 1] == 4


def test_unlabelled_file_without_dimensions_header(tmp_path):
    path = write(tmp_path, "@problemName U\n@classLabel false\n@data\n1,2:3,4:5,6\n7:8:9\n")
    header = ts_header(path)
    assert header.dimensions == 3 and header.class_labels == ()
    cases = list(ts_series(path).as_numpy_iterator())
    assert cases[0]["label"] == b"" and cases[0]["frames"].shape == (2, 3)


@pytest.mark.parametrize("text, line, message", [
    (HEADER + "1,2:3,4:x\n1,2:3,4:5,6:y\n", 9, "expected 2 dimensions"),
    (HEADER + "1,2:3:x\n", 8, "every dimension of a case must have the same length"),
    (HEADER + "1,abc:3,4:x\n", 8, "dimension 1, value 2: 'abc' is not a number"),
    (HEADER + "1,nan:3,4:x\n", 8, "not a finite number"),
    (HEADER + "1,?:3,4:x\n", 8, "@missing false"),
    (HEADER + "1,2:,:x\n", 8, "is not a number"),
    (HEADER + "1,2::x\n", 8, "dimension 2 is empty"),
    (HEADER + "1,2:3,4:z\n", 8, "label 'z' is not in @classLabel"),
    (HEADER.replace("@equalLength false", "@equalLength true") + "1,2:3,4:x\n1:3:y\n", 9, "@equalLength true"),
    (HEADER + "1,2:3,4:x\n@dimensions 3\n", 9, "header line after @data"),
    (HEADER.replace("@data\n", "") + "1,2:3,4:x\n", 7, "a case before the @data line"),
    (HEADER.replace("@dimensions 2", "@dimensions two"), 4, "@dimensions must be a positive integer"),
    (HEADER.replace("@data", "@timeStamps true\n@data"), 7, "not supported"),
])
def test_every_malformed_line_is_a_data_error_naming_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text, "bad.ts")
    with pytest.raises(DataError, match=message) as error:
        ts_series(path)
    assert error.value.path.endswith("bad.ts") and error.value.line == line
    assert str(error.value).startswith(f"{path}:{line}: ")


@pytest.mark.parametrize("text, message", [
    ("", "file is empty"),
    ("# only comments\n@problemName X\n", "no @data line"),
    (HEADER, "no case after @data"),
])
def test_files_without_cases_are_data_errors(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        ts_series(write(tmp_path, text))


def test_folds_are_stratified_disjoint_covering_and_seeded():
    labels = np.repeat(np.arange(4), [10, 10, 7, 3])
    fold_of = stratified_folds(labels, 5, seed=3)
    assert set(fold_of) == set(range(5))                                    # covers: every example one fold
    sizes = np.bincount(fold_of)
    assert sizes.max() - sizes.min() <= 1
    for c, count in zip(range(4), [10, 10, 7, 3]):
        per_fold = np.bincount(fold_of[labels == c], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1 and per_fold.sum() == count
    np.testing.assert_array_equal(fold_of, stratified_folds(labels, 5, seed=3))
    assert not np.array_equal(fold_of, stratified_folds(labels, 5, seed=4))
    with pytest.raises(ValueError, match="folds"):
        stratified_folds(labels, 1)


def utterances(count=24, classes=6, seed=0):
    rng = np.random.default_rng(seed)
    frames = [rng.normal(size=(int(rng.integers(3, 8)), 2)).astype(np.float32) for _ in range(count)]
    return Utterances(frames, np.arange(count) % classes)


def test_streams_label_every_frame_with_its_speaker_and_change_speaker_at_each_turn():
    source = utterances()
    streams = make_streams(source, 50, min_turns=2, max_turns=6, seed=1)
    assert len(streams) == 50
    for frames, labels, parts in zip(streams.frames, streams.labels, streams.parts):
        assert 2 <= len(parts) <= 6
        speakers = [int(source.labels[i]) for i in parts]
        assert len(set(speakers)) == len(speakers)                          # distinct: every turn changes speaker
        np.testing.assert_array_equal(frames, np.concatenate([source.frames[i] for i in parts]))
        np.testing.assert_array_equal(labels, np.concatenate([np.full(len(source.frames[i]), source.labels[i])
                                                              for i in parts]))
    again = make_streams(source, 50, seed=1)
    assert again.parts == streams.parts


def test_streams_cap_turns_at_the_speakers_present():
    source = utterances(count=6, classes=3)
    assert max(len(p) for p in make_streams(source, 20, 5, 6).parts) == 3


def ts_file(path, count=40, classes="abcd", dims=3, seed=0):
    rng = np.random.default_rng(seed)
    lines = ["@dimensions %d" % dims, f"@classLabel true {' '.join(classes)}", "@data"]
    for case in range(count):
        label = classes[case % len(classes)]
        frames = rng.normal(classes.index(label), 1.0, size=(rng.integers(3, 7), dims))
        lines.append(":".join(",".join(f"{v:.4f}" for v in frames[:, d]) for d in range(dims)) + f":{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def spec_for(path, **data):
    spec = Spec(name="s", data=DataSpec(train=str(path), folds=4, **data))
    spec.validate()
    return spec


def test_build_data_validates_on_one_fold_and_normalizes_on_the_others(tmp_path):
    path = ts_file(tmp_path / "t.ts")
    data = build_data(spec_for(path, fold=2), None, None)
    assert data.classes == list("abcd") and data.features == 3
    assert set(data.train_index).isdisjoint(data.validation_index)
    assert len(data.train_index) + len(data.validation_index) == 40 and data.validation_utterances == 10
    train = np.concatenate(data.split("train").frames)
    np.testing.assert_allclose(data.mean, train.mean(0), rtol=1e-5)
    np.testing.assert_allclose(data.std, train.std(0), rtol=1e-5)
    (inputs, labels), = data.validation.take(1)
    assert inputs["frames"].shape[0] == 10 and labels.shape == (10,)
    np.testing.assert_array_equal(inputs["length"], [len(f) for f in data.split("validation").frames])


def test_frame_streams_never_mix_folds(tmp_path):
    path = ts_file(tmp_path / "t.ts")
    spec = spec_for(path, task="label_frames", streams=30, validation_streams=10, max_turns=4)
    data = build_data(spec, None, None)
    train = data.split("train")
    # The parts index each split's own utterances: map them back to the file's cases.
    drawn = list(random_streams(train, 30, 2, 4, seed=0).as_numpy_iterator())
    used_train = {int(data.train_index[i]) for s in drawn for i in s["parts"]}
    used_validation = {int(data.validation_index[i]) for p in data.validation_streams.parts for i in p}
    assert used_train.isdisjoint(used_validation)
    assert used_validation <= set(data.validation_index) and used_train <= set(data.train_index)
    assert data.train_utterances == 30 and data.validation_utterances == 10 and len(data.validation_streams) == 10
    (inputs, labels), = data.validation.take(1)
    assert labels.shape == inputs["frames"].shape[:2]
    for row, n in enumerate(inputs["length"].numpy()):
        np.testing.assert_array_equal(labels[row, :n], data.validation_streams.labels[row])
        assert not np.any(labels[row, n:])
    batches = list(data.train.as_numpy_iterator())
    assert sum(len(y) for _, y in batches) == 30


def test_training_streams_are_drawn_afresh_each_epoch_and_labelled_like_make_streams():
    source = utterances()
    streams = random_streams(source, 40, min_turns=2, max_turns=5, seed=3)
    first, second = list(streams.as_numpy_iterator()), list(streams.as_numpy_iterator())
    assert [list(s["parts"]) for s in first] != [list(s["parts"]) for s in second]
    for stream in first + second:
        parts = list(stream["parts"])
        assert 2 <= len(parts) <= 5
        assert len({int(source.labels[i]) for i in parts}) == len(parts)    # distinct speakers
        np.testing.assert_array_equal(stream["frames"], np.concatenate([source.frames[i] for i in parts]))
        np.testing.assert_array_equal(stream["labels"], np.concatenate(
            [np.full(len(source.frames[i]), source.labels[i]) for i in parts]))
    again = list(random_streams(source, 40, min_turns=2, max_turns=5, seed=3).as_numpy_iterator())
    assert [list(s["parts"]) for s in again] == [list(s["parts"]) for s in first]     # seeded


def test_the_real_file(shared_data):
    path = shared_data / "japanese_vowels" / "JapaneseVowels_TRAIN.ts"
    header = ts_header(path)
    assert header.cases == 270 and header.dimensions == 12 and header.class_labels == tuple("123456789")
    assert min(header.lengths) == 7 and max(header.lengths) == 26
    labels = [c["label"] for c in ts_series(path).as_numpy_iterator()]
    assert {label: labels.count(label) for label in set(labels)} == {str(i).encode(): 30 for i in range(1, 10)}
