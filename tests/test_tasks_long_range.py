"""Labels and lags of the long-range tasks."""

import numpy as np
import pytest

from seqkeras.cells import LSTMCell
from seqkeras.tasks import AddingProblem, Agreement, CopyMemory, get_task
from seqkeras.tasks.agreement import NOUNS
from seqkeras.tasks.model import make_cell


def test_adding_target_is_sum_of_the_two_marked_numbers():
    x, y = AddingProblem().sample(20, 64, np.random.default_rng(0))
    assert x.shape == (64, 20, 2) and y.shape == (64, 1)
    markers = x[..., 1]
    assert np.all(markers.sum(axis=1) == 2)
    np.testing.assert_allclose(y[:, 0], (x[..., 0] * markers).sum(axis=1), rtol=1e-6)
    first = markers.argmax(axis=1)
    second = 19 - markers[:, ::-1].argmax(axis=1)
    assert np.all(first < 10) and np.all(second >= 10)  # first marker ≥ lag/2 before the end
    task = AddingProblem()
    assert task.score(y, np.ones_like(y)) == pytest.approx(0.0, abs=0.3)
    assert task.score(y, y) == 1.0 and task.accuracy(y, y) == 1.0


def test_copy_memory_layout_and_lag():
    task = CopyMemory(length=3, symbols=4)
    lag = 7
    x, y = task.sample(lag, 16, np.random.default_rng(1))
    assert x.shape == (16, 3 + lag + 3) and y.shape == (16, 3)
    np.testing.assert_array_equal(x[:, :3], y + 1)
    assert np.all(x[:, 3:3 + lag] == 0)
    assert np.all(x[:, 3 + lag] == task.delimiter)
    assert np.all(x[:, 3 + lag + 1:] == 0)
    one_hot = np.eye(4)[y]
    assert task.score(y, one_hot) == 1.0


def test_agreement_label_is_the_subject_number_lag_words_back():
    task = Agreement()
    lag = 9
    sentences, verbs = task.sample_text(lag, 50, np.random.default_rng(2))
    plural = {p for _, p in NOUNS}
    for sentence, verb in zip(sentences, verbs):
        words = sentence.split()
        assert len(words) == lag + 2 and words[0] == "the"
        assert verb == ("are" if words[1] in plural else "is")
    x, labels = task.sample(lag, 50, np.random.default_rng(2))
    assert x.shape == (50, lag + 2) and np.all(x > 0)
    assert list(labels) == [int(v == "are") for v in verbs]
    # attractors: the last noun disagrees with the subject in a good share of sentences
    nouns = {n for pair in NOUNS for n in pair}
    last = [[w for w in s.split() if w in nouns][-1] in plural for s in sentences]
    assert 0.2 < np.mean(np.array(last) != (labels == 1)) < 0.8


def test_datasets_stream_fresh_reproducible_batches():
    task = get_task("adding")
    first = [y.numpy() for _, y in task.dataset(10, batch_size=4, seed=3, batches=2)]
    again = [y.numpy() for _, y in task.dataset(10, batch_size=4, seed=3, batches=2)]
    assert len(first) == 2 and not np.allclose(first[0], first[1])
    np.testing.assert_array_equal(first[0], again[0])
    texts = next(iter(Agreement().text_dataset(3, batch_size=2)))
    assert texts[0].dtype.name == "string" and texts[0].shape == (2,)
    with pytest.raises(ValueError, match="lag"):
        task.dataset(0)
    with pytest.raises(ValueError, match="name"):
        get_task("nope")


def test_make_cell_spells_lstm_variants_with_a_colon():
    cell = make_cell("lstm:nfg", 4)
    assert isinstance(cell, LSTMCell) and cell.variant == "nfg" and cell.units == 4
    with pytest.raises(ValueError, match="'lstm:nfg'"):
        make_cell("lstm-nfg", 4)
