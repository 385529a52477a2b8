"""Recommendation data: the stable tie rule, leave-last-out, item indices, batches."""

from __future__ import annotations

import gzip
import pathlib

import numpy as np
import pytest

from seqkeras.data.errors import DataError
from seqkeras.recommendation.data import UNKNOWN, build_data, padded
from seqkeras.recommendation.spec import DataSpec, Spec

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "movielens" / "ml-100k"


def spec_for(path, **data) -> Spec:
    spec = Spec(name="r", data=DataSpec(path=str(path), shuffle_buffer=0, **data))
    spec.training.batch_size = 4
    spec.validate()
    return spec


def write_log(path, lines):
    path.write_text("".join(f"{u}\t{i}\t3\t{t}\n" for u, i, t in lines))
    return path


def test_ties_in_time_keep_file_order_so_the_last_line_is_the_test_item(tmp_path):
    # User 1 rates 30 then 20 in the same second (file order): 20 is the test item.
    path = write_log(tmp_path / "u.data", [(1, 10, 5), (2, 11, 1), (1, 30, 9), (2, 12, 2), (1, 20, 9),
                                           (2, 13, 3), (1, 40, 1)])
    data = build_data(spec_for(path))
    catalogue = lambda index: int(data.catalogue[index - 2])
    test, validation = data.splits["test"], data.splits["validation"]
    assert [catalogue(i) for i in test.targets] == [20, 13]
    assert [catalogue(i) for i in validation.targets] == [30, 12]
    assert [[catalogue(i) for i in h] for h in validation.histories] == [[40, 10], [11]]
    assert [[catalogue(i) for i in h] for h in test.histories] == [[40, 10, 30], [11, 12]]
    assert [[catalogue(i) for i in s] for s in data.train_sequences] == [[40, 10], [11]]


def test_indices_reserve_padding_and_unknown_and_cover_target_only_items(tmp_path):
    path = write_log(tmp_path / "u.data", [(1, 5, 1), (1, 7, 2), (1, 99, 3), (1, 100, 4)])
    data = build_data(spec_for(path))
    assert data.catalogue.tolist() == [5, 7, 99, 100] and data.vocabulary_size == 6
    assert data.to_index([5, 100, 6, 0]).tolist() == [2, 5, UNKNOWN, UNKNOWN]
    assert data.popularity.tolist() == [0, 0, 1, 1, 0, 0]          # only training items count


def test_short_users_train_only_and_a_single_event_trains_nothing(tmp_path):
    path = write_log(tmp_path / "u.data", [(1, 1, 1), (2, 1, 1), (2, 2, 2), (3, 1, 1), (3, 2, 2), (3, 3, 3)])
    data = build_data(spec_for(path))
    assert data.splits["validation"].users.tolist() == [3] and data.users == 3
    pairs = [(x.tolist(), y.tolist()) for xs, ys in data.train for x, y in zip(xs.numpy(), ys.numpy())]
    assert pairs == [([2], [3])]                                    # user 2's items 1 → 2


def test_training_pairs_are_next_items_in_chunks_of_max_history(tmp_path):
    path = write_log(tmp_path / "u.data", [(1, i, i) for i in range(1, 13)])
    data = build_data(spec_for(path, max_history=4))
    (inputs, targets), = [(x.numpy(), y.numpy()) for x, y in data.train]
    items = data.to_index(np.arange(1, 11))                        # training: items 1..10
    np.testing.assert_array_equal(inputs[0], items[-5:-1])         # the last chunk
    np.testing.assert_array_equal(targets[0], items[-4:])
    assert inputs.shape[0] == 3 and targets[2].tolist() == [items[1], 0, 0, 0]
    (history, target), = [(x.numpy(), y.numpy()) for x, y in data.validation]
    np.testing.assert_array_equal(history[0], items[-4:])
    assert target[0].tolist() == [0, 0, 0, int(data.to_index([11])[0])]


def test_padded_keeps_the_last_items_left_aligned():
    inputs, lengths = padded([np.array([2, 3, 4, 5]), np.array([6])], 3)
    assert inputs.tolist() == [[3, 4, 5], [6, 0, 0]] and lengths.tolist() == [3, 1]


def test_item_id_zero_is_rejected_as_the_padding_id(tmp_path):
    path = write_log(tmp_path / "u.data", [(1, 0, 1), (1, 2, 2), (1, 3, 3)])
    with pytest.raises(DataError, match="item ids must be ≥ 1"):
        build_data(spec_for(path))


def test_a_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / "u.data"
    path.write_text("1\t2\t3\t4\n1\tx\t3\t5\n")
    with pytest.raises(DataError, match=r"u.data:2.*item must be an integer"):
        build_data(spec_for(path))


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data")
def test_movielens_100k_split():
    data = build_data(spec_for(SHARED / "u.data.gz"))
    assert (data.users, data.items, len(data.splits["test"].targets)) == (943, 1682, 943)
    assert data.train_events == 100000 - 2 * 943
    # The tie rule matters: many users rate their last two items in the same second.
    with gzip.open(SHARED / "u.data.gz", "rt") as f:
        rows = [tuple(map(int, line.split("\t"))) for line in f]
    by_user = {}
    for user, _, _, time in rows:
        by_user.setdefault(user, []).append(time)
    tied = np.mean([sorted(t)[-1] == sorted(t)[-2] for t in by_user.values()])
    assert 0.4 < tied < 0.5


def test_long_histories_train_every_pair_once_in_chunks():
    from seqkeras.recommendation.data import history_chunks

    chunks = history_chunks([np.arange(2, 12), np.array([5])], 4)
    assert [c.tolist() for c in chunks] == [[7, 8, 9, 10, 11], [3, 4, 5, 6, 7], [2, 3]]
    pairs = [(c[i], c[i + 1]) for c in chunks for i in range(len(c) - 1)]
    assert sorted(pairs) == [(i, i + 1) for i in range(2, 11)]
