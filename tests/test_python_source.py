"""The source-code char LM's pieces: the `ast` scorer, the n-gram baselines, the file-set spec."""

import ast
import collections
import io
import math
import random
import tokenize

import numpy as np
import pytest

from seqkeras.language_model.ngram import NGramModel
from seqkeras.language_model.source_syntax import check_source, line_score, parse_share, statement_prefix
from seqkeras.pipeline.spec import SpecError, with_overrides

# sample → (parses, the scored prefix)
SAMPLES = {
    "import os\nx = os.sep\nfor ": (True, "import os\nx = os.sep\n"),
    "def f(x):\n    return x\n\ndef g(": (True, "def f(x):\n    return x\n"),
    # A class cut inside its second method: the header without a body is dropped.
    "class A:\n    def f(self):\n        pass\n    def g(self):\n        retu":
        (True, "class A:\n    def f(self):\n        pass\n"),
    # Brackets: a line break inside [...] is not a statement end.
    "x = [\n    1,\n    2,\n]\ny = (": (True, "x = [\n    1,\n    2,\n]\n"),
    # An open docstring at the end: the statements before it.
    'x = 1\ns = """abc\n\ndef': (True, "x = 1\n"),
    "def f(x):\n    retur x\nif": (False, "def f(x):\n    retur x\n"),
    "def (:\n  pass\n": (False, ""),                       # no complete statement
    "def f():": (False, ""),
    "abc": (False, ""),
    "x = 1\n$$\ny = 2\n": (False, "x = 1\n$$\ny = 2\n"),
    "if x:\n    a\n  b = 1\nc = 2\n": (False, "if x:\n    a\n"),   # bad dedent before the last line
    "if x:\n    a\n  b": (True, "if x:\n    a\n"),         # ... on the unfinished last line: the tail
}


@pytest.mark.parametrize("sample", list(SAMPLES))
def test_check_source(sample):
    parses, prefix = SAMPLES[sample]
    result = check_source(sample)
    assert (result.parses, result.prefix) == (parses, prefix)
    assert (result.error == "") == parses and (result.statements > 0) == parses


def test_parse_share_and_prefix():
    assert parse_share(["x = 1\n", "x = (\n"]) == 0.5 and parse_share([]) == 0.0
    assert statement_prefix("a = 1\nb = 2") == ("a = 1\n", "")


def _logical_lines(source: str) -> int:
    return sum(t.type == tokenize.NEWLINE and t.string != "" for t in tokenize.generate_tokens(io.StringIO(source).readline))


@pytest.mark.parametrize("module", [ast, collections, tokenize, random, pytest])
def test_every_line_of_real_source_parses_alone(module):
    """Real modules (decorators, try/except/finally, elif/else, with, class bodies, …): all lines pass."""
    import inspect

    source = inspect.getsource(module)
    assert line_score(source) == (_logical_lines(source), _logical_lines(source))


def test_line_score_counts_each_broken_line_once():
    import inspect

    lines = inspect.getsource(random).splitlines(keepends=True)
    broken = [i for i, line in enumerate(lines) if line.strip().startswith("return ")][:5]
    for i in broken:
        lines[i] = lines[i].replace("return ", "return return ", 1)
    parsed, total = line_score("".join(lines))
    assert total - parsed == len(broken)
    assert line_score("def f(x):\n    retur x\n    return x\nelse:\n    y = (") == (3, 4)
    assert line_score("x = (\n") == (0, 0) and line_score("") == (0, 0)
    assert line_score("if x:\n    a\n  b = 1\nc = 2\n") == (2, 2)     # a bad dedent ends the count


STREAM = np.array([1, 2, 1, 3, 3, 1, 2, 2, 0, 1])


def test_ngram_probabilities_match_counting():
    V, prior = 4, 2.0
    counts = collections.Counter(STREAM.tolist())
    unigram = [(counts[c] + 1) / (len(STREAM) + V) for c in range(V)]
    pairs = collections.Counter(zip(STREAM[:-1].tolist(), STREAM[1:].tolist()))
    uni = NGramModel(1, V).fit(STREAM)
    bi = NGramModel(2, V, prior=prior).fit(STREAM)
    np.testing.assert_allclose(uni.probabilities(), unigram)
    np.testing.assert_allclose(uni.probabilities(context=3), unigram)      # a unigram ignores its context
    for a in range(V):
        n_a = sum(pairs[(a, c)] for c in range(V))
        expected = [(pairs[(a, c)] + prior * unigram[c]) / (n_a + prior) for c in range(V)]
        np.testing.assert_allclose(bi.probabilities(context=a), expected)
        assert bi.probabilities(context=a).sum() == pytest.approx(1.0)
    held_out = np.array([2, 1, 1, 3])
    nats = -sum(math.log(bi.probabilities(a)[c]) for a, c in zip(held_out[:-1], held_out[1:]))
    assert bi.log_likelihood(held_out) == (pytest.approx(nats), 3)
    assert bi.bits_per_token(held_out) == pytest.approx(nats / 3 / math.log(2))


def test_ngram_sampling():
    bi = NGramModel(2, 4).fit(STREAM)
    # Near-zero temperature: always the most probable next id.
    cold = bi.sample([1, 3], 5, temperature=1e-3)
    for row, start in zip(cold, [1, 3]):
        previous = start
        for token in row:
            assert token == int(np.argmax(bi.probabilities(previous)))
            previous = token
    # Banned ids never appear; at T = 1 the frequencies follow the probabilities.
    draws = bi.sample([1] * 20_000, 1, temperature=1.0, banned=[0], seed=3)[:, 0]
    assert 0 not in draws
    expected = bi.probabilities(1)
    expected[0] = 0
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / len(draws), expected / expected.sum(), atol=0.015)
    with pytest.raises(ValueError, match="order"):
        NGramModel(3, 4)
    with pytest.raises(ValueError, match="not fitted"):
        NGramModel(1, 4).probabilities()


def test_language_model_reads_a_file_set(tmp_path):
    from seqkeras.language_model import Spec, build_data

    # Every file uses the same characters, so no validation character is <unk>.
    files = {f"m{i}.py": "def f(x):\n    return x\n" * (i + 1) for i in range(12)}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    spec = with_overrides(Spec(), {"data.files.root": str(tmp_path), "data.files.glob": "*.py",
                                   "data.validation_fraction": 0.25, "data.newline": "char",
                                   "training.batch_size": 2, "training.bptt_length": 4})
    spec.validate()
    data = build_data(spec)
    from seqkeras.data.sources.file_set import split_files

    split = split_files(spec.data.files, 0.25)
    vocabulary = data.tokenizer.vocabulary
    text = "".join(vocabulary.tokens[i] for i in data.validation_ids)
    assert text == "".join(p.read_text() for p in split.validation)        # exactly the validation files
    assert data.train_tokens == sum(len(p.read_text()) for p in split.train)
    with pytest.raises(SpecError, match="replaces data.train"):
        with_overrides(spec, {"data.train": "other.txt"}).validate()
