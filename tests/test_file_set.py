"""A directory of text files split by file: disjoint, deterministic, stable, bad input named."""

import gzip

import pytest

from seqkeras.data import DataError, MissingDataError
from seqkeras.data.sources.file_set import FileSet, file_lines, split_files


def _tree(root, count=20):
    for i in range(count):
        path = root / ("pkg" if i % 3 else "") / f"m{i:02d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"x = {i}\n")
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "t.py").write_text("assert True\n")
    (root / "pkg" / "__init__.py").write_text("")           # empty: skipped
    (root / "notes.txt").write_text("not python\n")
    return root


def test_split_is_by_file_disjoint_and_deterministic(tmp_path):
    root = _tree(tmp_path)
    files = FileSet(root=str(root), glob="**/*.py", exclude=["tests/*"])
    split = split_files(files, 0.3)
    train, validation = set(split.train), set(split.validation)
    assert not train & validation
    assert train | validation == {p for p in root.rglob("m*.py")}          # tests/, empty, .txt left out
    assert split.empty == (root / "pkg" / "__init__.py",)
    assert split == split_files(files, 0.3)                                 # deterministic
    assert 2 <= len(validation) <= 12
    other = split_files(FileSet(root=str(root), glob="**/*.py", exclude=["tests/*"], seed=1), 0.3)
    assert set(other.validation) != validation                              # the seed matters
    # A new file moves no other file across the split.
    (root / "pkg" / "new.py").write_text("y = 1\n")
    grown = split_files(files, 0.3)
    assert set(grown.validation) - {root / "pkg" / "new.py"} == validation


def test_relative_root_and_at_least_one_file_per_side(tmp_path):
    (tmp_path / "corpus").mkdir()
    for name in ("a.txt", "b.txt"):
        (tmp_path / "corpus" / name).write_text(name + "\n")
    split = split_files(FileSet(root="corpus", glob="*.txt"), 0.01, data_dir=tmp_path)
    assert len(split.train) == 1 and len(split.validation) == 1


def test_file_lines_in_order_without_bom(tmp_path):
    (tmp_path / "a.py").write_bytes("\ufeffimport os\r\nx = 1\n".encode())
    with gzip.open(tmp_path / "b.py.gz", "wt") as out:
        out.write("\ufeffy = 2")
    lines = [b.decode() for b in file_lines([tmp_path / "a.py", tmp_path / "b.py.gz"]).as_numpy_iterator()]
    assert lines == ["import os", "x = 1", "y = 2"]


def test_bad_input_names_the_file(tmp_path):
    with pytest.raises(MissingDataError, match="no such directory"):
        split_files(FileSet(root=str(tmp_path / "absent")), 0.1)
    with pytest.raises(DataError, match="no sysconfig path"):
        split_files(FileSet(root="sysconfig:nonsense"), 0.1)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DataError, match="no non-empty file matches"):
        split_files(FileSet(root=str(tmp_path / "empty_dir"), glob="**/*.py"), 0.1)
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "a.py").write_text("x\n")
    with pytest.raises(DataError, match="needs two"):
        split_files(FileSet(root=str(tmp_path / "one"), glob="*.py"), 0.1)
    bad = tmp_path / "latin1.py"
    bad.write_bytes(b"x = 1\ns = '\xe9t\xe9'\n")
    with pytest.raises(DataError) as error:
        file_lines([tmp_path / "one" / "a.py", bad])
    assert error.value.path == str(bad) and error.value.line == 2
    # "replace" reads it with U+FFFD instead.
    lines = list(file_lines([bad], encoding_errors="replace").as_numpy_iterator())
    assert lines[1].decode() == "s = '\ufffdt\ufffd'"
    corrupt = tmp_path / "c.py.gz"
    corrupt.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot read") as error:
        file_lines([corrupt])
    assert error.value.path == str(corrupt)
    with pytest.raises(ValueError, match="validation_fraction"):
        split_files(FileSet(root=str(tmp_path / "one")), 0.0)
