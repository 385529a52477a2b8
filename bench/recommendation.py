"""Recommendation peers on our split and users: RecBole GRU4Rec and SASRec, training speed.

Every recommender is scored by `seqkeras.recommendation.evaluation.evaluate_scores` on
the users our application evaluates: the split of ``pipelines/ml100k_next_item.toml``
(`seqkeras.recommendation.data.build_data`: each user's events in time order, ties in
file order, the last item the test target, the second-to-last the validation target),
full ranking over every catalogue item, the user's history items excluded, ties
pessimistic; next to our three baselines and, with ``--model-report``, our trained
model's figures on the same users. The validation split chooses the epochs and stops
training; the test split is read only with ``--test``, which reports the final figure
once (the best-on-validation weights on each user's test item).

Peers and their protocol (printed with the results):

* **RecBole** (1.2.1) ``GRU4Rec`` and ``SASRec`` with the settings of their model yaml
  files (GRU4Rec: embedding 64, hidden 128, 1 layer, dropout 0.3, CE loss; SASRec: 2
  layers, 2 heads, hidden 64, inner 256, dropout 0.5 / 0.5, CE loss) and RecBole's
  defaults for the rest (Adam, lr 1e-3, batch 2048, ``MAX_ITEM_LIST_LENGTH`` 50, at most
  300 epochs, patience 10), trained by RecBole's own ``Trainer`` on RecBole atomic files
  written from our split (``benchmark_filename`` = train / valid / test):

  - train: every prefix of each of our training sequences is one example
    (``items[max(0, i − 50):i] → items[i]``), which is what RecBole's sequential
    augmentation makes of the same sequences;
  - valid: each evaluated user's validation history (its last 50 items) → the
    validation item; test: the same for the test split with ``--test``, else a copy of
    valid (so not one test item is read);
  - an ``.item`` file with our whole catalogue, so RecBole indexes exactly our items.

  The trainer's validation step is ours: after each epoch the model's scores for the
  validation users are scored by our evaluator (``--valid-metric``, default NDCG@10,
  drives RecBole's early stopping; the best epoch's weights are kept in memory and
  restored). RecBole's own full-ranking metrics of the same epoch are kept too: RecBole
  does not exclude history items for sequential models, so they are compared with our
  evaluator's figures with ``exclude_history=False`` on the same scores — a
  cross-check of both evaluators. A time budget (``--peer-minutes``) ends training
  before an epoch that would not finish within it.
* **Speed**: training sequences (and next-item targets) per second of our recommender
  (the application's ``build_model``), a same-size plain Keras model (Embedding(V, 64)
  → Dropout → ``keras.layers.GRU(128, return_sequences=True)`` → Dropout → Dense(V),
  the same loss and optimizer) — the anchor — on the same ``data.train`` batches, and
  RecBole's GRU4Rec, RecBole's training step on batches of the same number of
  sequences (prefix examples: one target each). Each model runs its batches twice:
  the first pass compiles every batch shape, the second is timed.

Threads: TensorFlow (intra- and inter-op), torch (intra- and inter-op) and the BLAS
libraries all get ``--threads`` (default 1).

Setup: ``pip install -e .[bench]`` (RecBole pins colorama 0.4.4, colorlog 4.7.2 and
ray ≤ 2.6.3). Compatibility shims applied here, not in site-packages (printed in the
notes): NumPy 2 removed ``np.float_``, ``np.complex_`` and ``np.unicode_``, which
RecBole's ``Config`` assigns from; RecBole's TensorBoard writer (a ``log_tensorboard/``
folder in the working directory) is replaced by a no-op; checkpoints are not written
(``saved=False``): the best weights are kept in memory, which also avoids torch ≥ 2.6's
``weights_only`` load of RecBole's pickled checkpoints.

Reproduce (about 22 min on one core: each peer trains for at most ``--peer-minutes``,
10 by default, and the rest takes 1–2 min; see ``--help``). An epoch is RecBole's
97,171 prefix examples: about 95 s for GRU4Rec and 390 s for SASRec on one shared core,
so 10 minutes give them about 6 and 1 epochs, short of RecBole's early stopping (the
notes say so): raise ``--peer-minutes`` for converged peers.

    python bench/recommendation.py --data-dir ../shared/data \\
        --model-report runs/ml100k_next_item/evaluation_validation.json
    python bench/recommendation.py --quick --output /tmp/recommendation_quick.json   # a 1-minute smoke run

Writes ``bench/results/recommendation_ml100k.json`` (every figure, the settings, the
per-epoch histories, the timings and the checks).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gzip
import itertools
import json
import logging
import math
import os
import pathlib
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from harness import OverBudget, limit_threads, markdown_table, versions  # noqa: E402
from seqkeras.recommendation import evaluation  # noqa: E402
from seqkeras.recommendation.data import RESERVED  # noqa: E402

SPEC = "pipelines/ml100k_next_item.toml"
PEER_PACKAGES = ("torch", "recbole", "pandas")
PEERS = {"gru4rec": "GRU4Rec", "sasrec": "SASRec"}
METRICS = ("hr", "ndcg", "mrr")
RECBOLE_METRICS = {"hr": "hit", "ndcg": "ndcg", "mrr": "mrr"}   # ours → RecBole's name
QUICK = {"epochs": 1, "train_batches": 3, "speed_batches": 3}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default=SPEC)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--model-report", action="append", default=[],
                        help="evaluation_validation.json of `seqkeras run`/`evaluate` (repeatable; the first whose "
                             "users and baseline figures are this run's gives the model row)")
    parser.add_argument("--output", default="bench/results/recommendation_ml100k.json")
    parser.add_argument("--peers", nargs="*", choices=PEERS, default=list(PEERS))
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow, torch and BLAS threads")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: RecBole {QUICK['epochs']} epoch of {QUICK['train_batches']} batches, "
                             f"{QUICK['speed_batches']} speed batches")
    parser.add_argument("--test", action="store_true",
                        help="also report the final figure on the test split (the best-on-validation weights)")
    parser.add_argument("--peer-minutes", type=float, default=10.0,
                        help="RecBole training time budget per peer (no epoch starts that would end after it)")
    parser.add_argument("--epochs", type=int, default=None, help="RecBole epochs at most (default: its 300)")
    parser.add_argument("--stopping-step", type=int, default=None, help="RecBole patience (default: its 10)")
    parser.add_argument("--train-batches", type=int, default=0, help="RecBole batches per epoch (0 = all)")
    parser.add_argument("--valid-metric", default="ndcg@10", choices=[f"{m}@{k}" for k in (10, 20) for m in METRICS],
                        help="our validation metric for RecBole's early stopping")
    parser.add_argument("--seed", type=int, default=None, help="RecBole's seed (default: the spec's)")
    parser.add_argument("--speed-batches", type=int, default=30, help="timed training batches per model")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = args.epochs or QUICK["epochs"]
        args.train_batches = args.train_batches or QUICK["train_batches"]
        args.speed_batches = min(args.speed_batches, QUICK["speed_batches"])
    return args


# ----------------------------------------------------------------------------- setting


@dataclasses.dataclass
class Bench:
    """The spec, its data and the users every recommender is scored on."""

    spec: object
    data: object
    users: np.ndarray               # int64[U] the user id of each training sequence (increasing)
    ks: tuple

    @property
    def validation(self):
        return self.data.splits["validation"]

    @property
    def max_history(self) -> int:
        return self.spec.data.max_history

    def evaluate(self, scores: np.ndarray, split: str = "validation", exclude_history=None) -> dict:
        s = self.data.splits[split]
        exclude = self.spec.evaluation.exclude_history if exclude_history is None else exclude_history
        return evaluation.evaluate_scores(scores, s.targets, s.histories, self.ks, exclude)


def read_log(spec, data_dir) -> tuple[np.ndarray, list[np.ndarray]]:
    """The log read again, independently of `build_data` (plain Python + a stable NumPy
    sort): ``(users int64[n] increasing, one int64 array of catalogue ids per user in
    time order, ties in file order)``."""
    from seqkeras.data.paths import resolve_path

    d = spec.data
    path = resolve_path(d.path, data_dir)
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt") as lines:
        for number, line in enumerate(lines):
            if (d.header and number == 0) or not line.strip():
                continue
            fields = line.rstrip("\n").split(d.delimiter)
            rows.append((int(fields[d.user_column]), int(fields[d.item_column]), int(fields[d.time_column])))
    user, item, when = np.array(rows, np.int64).T
    order = np.lexsort((when, user))           # user, then time; lexsort is stable: ties keep file order
    user, item = user[order], item[order]
    starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]])
    return user[starts], np.split(item, starts[1:])


def load_bench(args) -> tuple[Bench, list[str]]:
    from seqkeras.pipeline import load_spec
    from seqkeras.recommendation.data import build_data

    spec = load_spec(args.spec)
    data = build_data(spec, args.data_dir)
    users, sequences = read_log(spec, args.data_dir)

    # THE split, rebuilt from the raw log: leave-last-out of each user's time-sorted events.
    assert len(users) == len(data.train_sequences), (len(users), len(data.train_sequences))
    for events, ours in zip(sequences, data.train_sequences):
        assert np.array_equal(data.to_index(events[:-2] if len(events) >= 3 else events), ours)
    enough = [len(events) >= 3 for events in sequences]
    v = data.splits["validation"]
    assert np.array_equal(v.users, users[enough])
    for events, history, target in zip(itertools.compress(sequences, enough), v.histories, v.targets):
        assert np.array_equal(data.to_index(events[:-2]), history) and data.to_index([events[-2]])[0] == target
    assert (v.targets >= RESERVED).all() and np.array_equal(data.catalogue, np.unique(np.concatenate(sequences)))
    checks = [f"split rebuilt from the raw log (stable time sort, ties in file order, leave-last-out) equals "
              f"build_data's: {len(users)} training sequences, {len(v.users)} validation users, histories and "
              f"targets; catalogue = the log's {len(data.catalogue)} item ids"]
    if args.test:
        t = data.splits["test"]
        assert np.array_equal(t.users, v.users)
        for events, history, target in zip(itertools.compress(sequences, enough), t.histories, t.targets):
            assert np.array_equal(data.to_index(events[:-1]), history) and data.to_index([events[-1]])[0] == target
        checks.append(f"test split rebuilt from the raw log equals build_data's ({len(t.users)} users)")
    return Bench(spec, data, users, tuple(spec.evaluation.ks)), checks


# ----------------------------------------------------------------------------- RecBole


@dataclasses.dataclass
class Peer:
    """A peer's validation scores and how they were made."""

    name: str
    scores: np.ndarray                          # float[U, V], our index order
    recbole_own: dict                           # RecBole's full-ranking metrics at the best epoch
    protocol: str
    fit_seconds: float
    examples_per_second: float                  # training examples (prefixes) per second while training
    history: list[dict]                         # per epoch: loss, timings, our and RecBole's figures
    epochs_run: int = 0
    best_epoch: int = 0                         # 1-based
    stopped: str = ""
    test_scores: np.ndarray | None = None
    recbole_own_test: dict | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    checks: list[str] = dataclasses.field(default_factory=list)


class _NoWriter:
    """Stands in for RecBole's TensorBoard SummaryWriter (which writes under ./log_tensorboard)."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def recbole_shims() -> list[str]:
    """Make RecBole 1.2.1 run under NumPy 2 and keep it from writing into the working
    directory; returns what was done, for the notes."""
    import recbole.trainer.trainer as recbole_trainer

    notes = []
    removed = {"float_": np.float64, "complex_": np.complex128, "unicode_": np.str_}
    missing = [name for name in removed if not hasattr(np, name)]
    for name in missing:
        setattr(np, name, removed[name])        # recbole.config.Config.compatibility_settings reads them
    if missing:
        notes.append(f"shim: np.{', np.'.join(missing)} restored as aliases (NumPy {np.__version__} removed them; "
                     "RecBole's Config assigns np.float etc. from them)")
    recbole_trainer.get_tensorboard = lambda logger: _NoWriter()
    notes.append("shim: RecBole's TensorBoard writer replaced by a no-op (it writes ./log_tensorboard)")
    notes.append("RecBole checkpoints not written (fit(saved=False)): the best epoch's weights are kept in memory "
                 "(torch ≥ 2.6 would also refuse to load RecBole's pickled checkpoint with weights_only=True)")
    return notes


def _tokens(catalogue: np.ndarray, indices) -> str:
    return " ".join(str(catalogue[i - RESERVED]) for i in indices)


def training_examples(sequences: list[np.ndarray], width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every prefix of every sequence, RecBole's sequential augmentation: ``(row int64[N],
    histories int64[N, width] right-padded with 0, lengths int64[N], targets int64[N])``
    for ``items[max(0, i − width):i] → items[i]``, i = 1 … n − 1."""
    rows, histories, lengths, targets = [], [], [], []
    for row, items in enumerate(sequences):
        n = len(items)
        if n < 2:
            continue
        ends = np.arange(1, n)
        starts = np.maximum(0, ends - width)
        block = np.zeros([n - 1, width], np.int64)
        for k, (start, end) in enumerate(zip(starts, ends)):
            block[k, :end - start] = items[start:end]
        rows.append(np.full(n - 1, row))
        histories.append(block)
        lengths.append(ends - starts)
        targets.append(np.asarray(items[1:], np.int64))
    return tuple(np.concatenate(parts) for parts in (rows, histories, lengths, targets))


def write_atomic_files(bench: Bench, folder: pathlib.Path, name: str, width: int, test: bool) -> dict:
    """RecBole's benchmark files from our split: ``name.{train,valid,test}.inter`` and
    ``name.item`` (ids are catalogue ids, as tokens). Returns what was written, in our indices."""
    data, catalogue = bench.data, bench.data.catalogue
    header = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
    rows, histories, lengths, targets = training_examples(data.train_sequences, width)
    with open(folder / f"{name}.train.inter", "w") as out:
        out.write(header)
        for row, history, length, target in zip(rows, histories, lengths, targets):
            out.write(f"{bench.users[row]}\t{_tokens(catalogue, history[:length])}\t{catalogue[target - RESERVED]}\n")
    written = {"train": (bench.users[rows], histories, lengths, targets)}
    for split, source in (("valid", "validation"), ("test", "test" if test else "validation")):
        s = data.splits[source]
        cut = [h[-width:] for h in s.histories]
        with open(folder / f"{name}.{split}.inter", "w") as out:
            out.write(header)
            for user, history, target in zip(s.users, cut, s.targets):
                out.write(f"{user}\t{_tokens(catalogue, history)}\t{catalogue[target - RESERVED]}\n")
        written[split] = (s.users, cut, s.targets)
    (folder / f"{name}.item").write_text("item_id:token\n" + "".join(f"{c}\n" for c in catalogue))
    return written


def recbole_config(model: str, folder: pathlib.Path, name: str, args, seed: int):
    from recbole.config import Config

    overrides = {
        "data_path": str(folder.parent), "benchmark_filename": ["train", "valid", "test"],
        "alias_of_item_id": ["item_id_list"],          # the history tokens share the item vocabulary
        "load_col": None, "train_neg_sample_args": None,
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"},
        "topk": [10, 20], "metrics": ["Hit", "NDCG", "MRR"], "valid_metric": "NDCG@10", "metric_decimal_place": 8,
        "use_gpu": False, "seed": seed, "checkpoint_dir": str(folder / "saved"), "show_progress": False,
        "state": "WARNING",
    }
    if args.epochs:
        overrides["epochs"] = args.epochs
    if args.stopping_step is not None:
        overrides["stopping_step"] = args.stopping_step
    return Config(model=model, dataset=name, config_dict=overrides)


def item_mapping(dataset, catalogue: np.ndarray, vocabulary_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(recbole_of int64[V], ours_of int64[n_items])``: RecBole's item id of each of our
    indices (0 for the reserved ones) and our index of each RecBole id (0 for [PAD])."""
    token_id = dataset.field2token_id["item_id"]
    recbole_of = np.zeros(vocabulary_size, np.int64)
    recbole_of[RESERVED:] = [token_id[str(c)] for c in catalogue]
    ours_of = np.zeros(dataset.item_num, np.int64)
    ours_of[recbole_of[RESERVED:]] = np.arange(RESERVED, vocabulary_size)
    id_token = dataset.field2id_token["item_id"]
    assert dataset.item_num == vocabulary_size - RESERVED + 1, (dataset.item_num, vocabulary_size)
    assert np.array_equal(np.sort(recbole_of[RESERVED:]), np.arange(1, dataset.item_num))
    assert all(id_token[recbole_of[j]] == str(catalogue[j - RESERVED]) for j in range(RESERVED, vocabulary_size))
    return recbole_of, ours_of


def check_rows(dataset, expected, ours_of: np.ndarray, what: str) -> None:
    """Assert RecBole's rows of `dataset`, mapped back to our indices, are `expected`, row
    by row: ``(users, histories, targets)`` (histories: arrays) or ``(users, histories
    right-padded with 0, lengths, targets)``."""
    feat = dataset.inter_feat
    users = np.array([int(t) for t in dataset.field2id_token["user_id"][feat["user_id"].numpy()]])
    lists = ours_of[feat["item_id_list"].numpy()]
    lengths = feat["item_length"].numpy()
    targets = ours_of[feat["item_id"].numpy()]
    if len(expected) == 4:
        e_users, e_lists, e_lengths, e_targets = expected
    else:
        e_users, cut, e_targets = expected
        e_lengths = np.array([len(h) for h in cut])
        e_lists = np.zeros([len(cut), max(1, e_lengths.max())], np.int64)
        for row, h in enumerate(cut):
            e_lists[row, :len(h)] = h
    assert len(users) == len(e_users), f"{what}: RecBole has {len(users)} rows, we wrote {len(e_users)}"
    width = max(lists.shape[1], e_lists.shape[1])
    pad = lambda m: np.pad(m, [(0, 0), (0, width - m.shape[1])])  # noqa: E731
    assert np.array_equal(users, e_users), f"{what}: the users differ"
    assert np.array_equal(lengths, e_lengths), f"{what}: the history lengths differ"
    assert np.array_equal(pad(lists), pad(e_lists)), f"{what}: the histories differ"
    assert np.array_equal(targets, e_targets), f"{what}: the targets differ"


def full_scores(model, dataset, recbole_of: np.ndarray, batch: int = 512) -> np.ndarray:
    """float64[U, V]: the model's full-sort scores for every row of `dataset`, in our
    index order (−inf at our reserved indices)."""
    import torch

    model.eval()
    feat, chunks = dataset.inter_feat, []
    with torch.no_grad():
        for start in range(0, len(feat), batch):
            chunks.append(model.full_sort_predict(feat[start:start + batch]).numpy().astype(np.float64))
    scores = np.concatenate(chunks)[:, recbole_of]
    scores[:, :RESERVED] = -np.inf
    return scores


def own_metrics(result: dict, ks) -> dict:
    """RecBole's ``{"hit@10": …}`` in our names (``hr@10``)."""
    return {f"{ours}@{k}": float(result[f"{theirs}@{k}"]) for k in ks for ours, theirs in RECBOLE_METRICS.items()}


def cross_check(label: str, scores: np.ndarray, recbole_result: dict, bench: Bench, split: str) -> str:
    """Assert our evaluator without history exclusion gives RecBole's figures on the same
    scores (to one user's worth where the target ties another candidate)."""
    s = bench.data.splits[split]
    ours = bench.evaluate(scores, split, exclude_history=False)
    theirs = own_metrics(recbole_result, bench.ks)
    target = scores[np.arange(len(s.targets)), s.targets]
    candidate = scores[:, RESERVED:]
    ties = int(((candidate == target[:, None]).sum(axis=1) > 1).sum())
    tolerance = 1e-6 + ties / len(s.targets)
    worst = max(abs(ours[key] - theirs[key]) for key in theirs)
    assert worst <= tolerance, f"{label}: our evaluator (history kept) vs RecBole's: {ours} vs {theirs}"
    return (f"{label}: RecBole's own full-ranking {split} metrics = ours with exclude_history=False on the same "
            f"scores (max |difference| {worst:.1e}, {ties} tied targets)")


def recbole_data(model_name: str, bench: Bench, args, work_dir: str, seed: int, test: bool):
    """``(config, written, dataset, (train, valid, test) loaders)``: RecBole's config for
    `model_name`, our split written as its atomic files under `work_dir` and read back."""
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import init_seed

    name = "seqkeras_ml100k"
    folder = pathlib.Path(work_dir) / name
    folder.mkdir()
    config = recbole_config(model_name, folder, name, args, seed)
    written = write_atomic_files(bench, folder, name, config["MAX_ITEM_LIST_LENGTH"], test)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    return config, written, dataset, data_preparation(config, dataset)


def recbole_peer(key: str, bench: Bench, args) -> Peer:
    """Train RecBole's `key` model with its own Trainer on our split; our validation
    metric drives its early stopping (see the module doc)."""
    from recbole.utils import get_model, init_seed

    model_name = PEERS[key]
    label = f"RecBole {model_name}"
    seed = bench.spec.training.seed if args.seed is None else args.seed
    with tempfile.TemporaryDirectory() as work_dir:          # RecBole's files, read into memory
        config, written, dataset, (train_data, valid_data, test_data) = recbole_data(
            model_name, bench, args, work_dir, seed, args.test)
        V = bench.data.vocabulary_size
        recbole_of, ours_of = item_mapping(dataset, bench.data.catalogue, V)
        init_seed(config["seed"], config["reproducibility"])
        model = get_model(model_name)(config, train_data.dataset).to(config["device"])
        trainer = bench_trainer(config, model, lambda: bench.evaluate(full_scores(model, valid_data.dataset,
                                                                                  recbole_of)),
                                args.valid_metric, args.train_batches)
    width = config["MAX_ITEM_LIST_LENGTH"]

    # Alignment: RecBole's items, users, histories and targets are ours.
    check_rows(train_data.dataset, written["train"], ours_of, f"{label} train")
    check_rows(valid_data.dataset, written["valid"], ours_of, f"{label} valid")
    v = bench.validation
    assert np.array_equal(written["valid"][0], v.users) and np.array_equal(written["valid"][2], v.targets)
    assert all(np.array_equal(h, full[-width:]) for h, full in zip(written["valid"][1], v.histories))
    truncated = sum(len(h) > width for h in v.histories)
    checks = [f"{label}: {dataset.item_num - 1} RecBole items ↔ our indices {RESERVED}..{V - 1}, a bijection through "
              "the catalogue ids (each RecBole token = our catalogue id)",
              f"{label}: train = every prefix (≤ {width} items) of our {len(bench.data.train_sequences)} training "
              f"sequences, {len(written['train'][0])} examples, read back from RecBole's dataset",
              f"{label}: valid = our {len(v.users)} validation users in our order, their targets and histories (the "
              f"last {width} items: {truncated} longer histories cut, as our model reads them), read back from "
              "RecBole's dataset"]

    state = {"best": copy.deepcopy(model.state_dict()), "epoch": -1}
    budget = 60 * args.peer_minutes
    start = time.perf_counter()

    def after_validation(epoch, score):
        if trainer.cur_step == 0:                            # RecBole's own update rule: ≥ the best so far
            state["best"], state["epoch"] = copy.deepcopy(model.state_dict()), epoch
        elapsed = time.perf_counter() - start
        if elapsed + elapsed / (epoch + 1) > budget:         # the next epoch would end past the budget
            raise OverBudget(f"time budget of {args.peer_minutes:g} min")

    try:
        trainer.fit(train_data, valid_data, verbose=False, saved=False, show_progress=False,
                    callback_fn=after_validation)
        epochs_run = len(trainer.history)
        stopped = (f"early stopping ({trainer.stopping_step} epochs without improvement)"
                   if epochs_run < trainer.epochs else f"the epoch limit ({trainer.epochs})")
    except OverBudget as reason:
        epochs_run = len(trainer.history)
        stopped = f"the {reason}, before RecBole's early stopping: under-trained (raise --peer-minutes)"
    fit_seconds = time.perf_counter() - start
    model.load_state_dict(state["best"])
    best = state["epoch"]

    scores = full_scores(model, valid_data.dataset, recbole_of)
    recbole_valid = trainer.evaluate(valid_data, load_best_model=False)
    checks.append(cross_check(label, scores, recbole_valid, bench, "validation"))
    train_seconds = sum(h["train_seconds"] for h in trainer.history)
    examples = sum(h["train_examples"] for h in trainer.history)
    c = config
    if model_name == "GRU4Rec":
        settings = (f"embedding {c['embedding_size']}, hidden {c['hidden_size']}, {c['num_layers']} layer(s), dropout "
                    f"{c['dropout_prob']}")
    else:
        settings = (f"{c['n_layers']} layers, {c['n_heads']} heads, hidden {c['hidden_size']}, inner "
                    f"{c['inner_size']}, dropout {c['hidden_dropout_prob']}/{c['attn_dropout_prob']}")
    protocol = (f"RecBole {model_name} ({settings}, {c['loss_type']} loss), RecBole's Trainer on every prefix "
                f"(≤ {width} items) of our training sequences; {c['learner']} lr {c['learning_rate']}, batch "
                f"{c['train_batch_size']}, ≤ {c['epochs']} epochs; early stopping on our validation "
                f"{args.valid_metric} (patience {c['stopping_step']}), best epoch's weights")
    notes = [f"epochs run: {epochs_run}, best: {best + 1}, stopped by {stopped}"
             + (f"; {args.train_batches} batches per epoch" if args.train_batches else ""),
             f"{sum(p.numel() for p in model.parameters()):,} parameters"]
    peer = Peer(label, scores, own_metrics(recbole_valid, bench.ks), protocol, fit_seconds,
                examples / train_seconds if train_seconds else math.nan, trainer.history, epochs_run, best + 1,
                stopped, notes=notes, checks=checks)
    if args.test:
        check_rows(test_data.dataset, written["test"], ours_of, f"{label} test")
        peer.test_scores = full_scores(model, test_data.dataset, recbole_of)
        recbole_test = trainer.evaluate(test_data, load_best_model=False)
        peer.recbole_own_test = own_metrics(recbole_test, bench.ks)
        checks.append(cross_check(label, peer.test_scores, recbole_test, bench, "test"))
    return peer


def bench_trainer(config, model, evaluate_ours=None, metric=None, max_batches=0):
    """RecBole's Trainer whose validation score is our evaluator's `metric` (RecBole's own
    figures are kept beside it), optionally on the first `max_batches` of each epoch; the
    epochs' figures and timings are in its ``history``."""
    from recbole.trainer import Trainer

    class BenchTrainer(Trainer):
        def __init__(self):
            super().__init__(config, model)
            self.history: list[dict] = []
            self._epoch: dict = {}

        def _train_epoch(self, train_data, epoch_idx, loss_func=None, show_progress=False):
            counted = _Counted(train_data, max_batches)
            start = time.perf_counter()
            loss = super()._train_epoch(counted, epoch_idx, loss_func, show_progress=False)
            self._epoch = {"epoch": epoch_idx + 1, "train_loss": float(loss) / max(1, counted.batches),
                           "train_seconds": time.perf_counter() - start, "train_examples": counted.examples}
            return loss

        def _valid_epoch(self, valid_data, show_progress=False):
            _, recbole_result = super()._valid_epoch(valid_data, show_progress=False)
            ours = evaluate_ours()
            self.history.append({**self._epoch, **{k: v for k, v in ours.items() if k != "users"},
                                 "recbole": own_metrics(recbole_result, (10,))})
            return ours[metric], recbole_result

    return BenchTrainer()


class _Counted:
    """A training data loader seen through its first `limit` batches (0 = all), counting them
    and their examples."""

    def __init__(self, loader, limit: int = 0):
        self.loader, self.limit, self.examples, self.batches = loader, limit, 0, 0
        self.shuffle = getattr(loader, "shuffle", False)

    def __len__(self):
        return min(len(self.loader), self.limit) if self.limit else len(self.loader)

    def __iter__(self):
        for interaction in itertools.islice(self.loader, self.limit or None):
            self.examples += len(interaction)
            self.batches += 1
            yield interaction


# ----------------------------------------------------------------------------- speed


def speed(bench: Bench, args) -> tuple[list[dict], dict]:
    """Training sequences/s: our recommender, plain Keras (the anchor), RecBole GRU4Rec."""
    import tensorflow as tf

    from seqkeras.recommendation.application import RecommendationApplication
    from seqkeras.recommendation.losses import make_loss

    spec, data = bench.spec, bench.data
    B, count = spec.training.batch_size, args.speed_batches
    batches = list(data.train.repeat().take(count).as_numpy_iterator())
    assert len(batches) == count
    sequences = sum(len(x) for x, _ in batches)
    targets = sum(int((y != 0).sum()) for _, y in batches)
    widths = sorted({x.shape[1] for x, _ in batches})

    def keras_speed(model) -> float:
        """Seconds for the second pass over `batches` (the first compiles every shape)."""
        signature = (tf.TensorSpec([None, None], tf.int32),) * 2
        dataset = tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=signature)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))
        clock = EpochClock(1)
        model.fit(dataset, epochs=2, verbose=0, shuffle=False, callbacks=[clock])
        assert clock.batches == count, f"timed {clock.batches} batches, expected {count}"
        return clock.stop - clock.start

    def row(name, seconds, model_parameters, **extra):
        return {"model": name, "sequences_per_second": sequences / seconds, "targets_per_second": targets / seconds,
                "parameters": model_parameters, "seconds": seconds, **extra}

    rows = []
    m = spec.model
    keras.utils.set_random_seed(spec.training.seed)
    ours = RecommendationApplication().build_model(spec, data)
    rows.append(row(f"seqkeras recommender ({m.cell} {m.units}, {m.loss})", keras_speed(ours), ours.count_params()))

    keras.utils.set_random_seed(spec.training.seed)
    plain = plain_keras_model(spec, data.vocabulary_size)
    plain.compile(optimizer=RecommendationApplication.optimizer(spec), loss=make_loss("softmax"))
    rows.append(row(f"plain keras (GRU({m.units}))", keras_speed(plain), plain.count_params(), anchor=True))

    try:
        rows.append(recbole_speed(bench, args, batches))
    except ImportError as error:
        print(f"  speed: no RecBole row ({error})")
    anchor = rows[1]["sequences_per_second"]
    for r in rows:
        r["ratio_to_plain_keras"] = r["sequences_per_second"] / anchor
    return rows, {"batches": count, "batch_size": B, "sequences": sequences, "targets": targets, "widths": widths}


def recbole_speed(bench: Bench, args, batches) -> dict:
    """RecBole GRU4Rec's training step (its Trainer's epoch loop) on `len(batches)` batches
    of the same number of sequences, each a prefix example of our training sequences."""
    import torch
    from recbole.utils import get_model, init_seed

    seed = bench.spec.training.seed
    one_epoch = argparse.Namespace(**{**vars(args), "epochs": 1, "stopping_step": None})
    with tempfile.TemporaryDirectory() as work_dir:
        config, _, _, (train_data, _, _) = recbole_data("GRU4Rec", bench, one_epoch, work_dir, seed, False)
        init_seed(seed, True)
        model = get_model("GRU4Rec")(config, train_data.dataset)
        trainer = bench_trainer(config, model)
    feat = train_data.dataset.inter_feat
    rng = np.random.default_rng(seed)
    sizes = [len(x) for x, _ in batches]
    examples = [feat[torch.from_numpy(rng.choice(len(feat), size, replace=False))] for size in sizes]
    trainer._train_epoch(examples, 0)                        # warm-up pass, untimed
    start = time.perf_counter()
    trainer._train_epoch(examples, 1)
    seconds = time.perf_counter() - start
    parameters = sum(p.numel() for p in model.parameters())
    return {"model": f"RecBole GRU4Rec (GRU({config['hidden_size']}), prefix examples)",
            "sequences_per_second": sum(sizes) / seconds, "targets_per_second": sum(sizes) / seconds,
            "parameters": parameters, "seconds": seconds}


def plain_keras_model(spec, vocabulary_size: int):
    m = spec.model
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocabulary_size, m.embedding_dim)(inputs)
    x = keras.layers.Dropout(m.dropout)(x)
    x = keras.layers.GRU(m.units, return_sequences=True)(x)
    x = keras.layers.Dropout(m.dropout)(x)
    return keras.Model(inputs, keras.layers.Dense(vocabulary_size)(x), name="plain_keras")


class EpochClock(keras.callbacks.Callback):
    """A Keras callback: the wall time and batch count of epoch `epoch` (reading each
    step's loss makes the step finish before the clock is read)."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch, self.start, self.stop, self.batches, self._current = epoch, None, None, 0, -1

    def on_epoch_begin(self, epoch, logs=None):
        self._current = epoch
        if epoch == self.epoch:
            self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        float((logs or {}).get("loss", 0.0))
        self.batches += self._current == self.epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.stop = time.perf_counter()


# ----------------------------------------------------------------------------- report


def model_report(paths: list[str], bench: Bench, results: dict) -> tuple[dict | None, str]:
    """Our model's figures from the first report scored on this run's users: the same
    number of users and every baseline's figures equal to this run's."""
    for path in paths:
        report = json.loads(pathlib.Path(path).read_text())
        model = report.get("model")
        if (model and model.get("users") == results["popularity"]["users"]
                and all(name in report and all(math.isclose(report[name][key], value, rel_tol=1e-9, abs_tol=1e-12)
                                               for key, value in results[name].items() if key in report[name])
                        for name in evaluation.BASELINES)):
            return model, (f"model row from {path}: its {model['users']} users and every baseline's figures "
                           "equal this run's")
    if paths:
        return None, f"no model row: none of {paths} holds this run's users and baseline figures"
    return None, ""


def peer_table(peers: list[Peer]) -> str:
    return markdown_table(["recommender", "fit s", "train examples/s", "protocol"],
                          [[p.name, f"{p.fit_seconds:.0f}", f"{p.examples_per_second:.0f}", p.protocol] for p in peers])


def own_table(peers: list[Peer], bench: Bench, split: str) -> str:
    """RecBole's own figures next to ours on the same scores, history kept and excluded."""
    k = bench.ks[0]
    lines = [f"| {split} | RecBole HR@{k} | ours HR@{k} (history kept) | ours HR@{k} (history excluded) | "
             f"RecBole NDCG@{k} | ours NDCG@{k} (kept) | ours NDCG@{k} (excluded) |", "|---|---|---|---|---|---|---|"]
    for p in peers:
        scores, own = (p.scores, p.recbole_own) if split == "validation" else (p.test_scores, p.recbole_own_test)
        kept = bench.evaluate(scores, split, exclude_history=False)
        excluded = bench.evaluate(scores, split)
        lines.append(f"| {p.name} | {own[f'hr@{k}']:.4f} | {kept[f'hr@{k}']:.4f} | {excluded[f'hr@{k}']:.4f} | "
                     f"{own[f'ndcg@{k}']:.4f} | {kept[f'ndcg@{k}']:.4f} | {excluded[f'ndcg@{k}']:.4f} |")
    return "\n".join(lines)


def speed_table(rows: list[dict]) -> str:
    return markdown_table(["model", "parameters", "sequences/s", "targets/s", "× plain keras"],
                          [[r["model"], f"{r['parameters']:,}", f"{r['sequences_per_second']:.0f}",
                            f"{r['targets_per_second']:.0f}", f"{r['ratio_to_plain_keras']:.2f}"] for r in rows])


def baseline_results(bench: Bench, split: str) -> dict:
    s = bench.data.splits[split]
    scores = evaluation.baseline_scores(bench.data.train_sequences, s.histories, bench.data.vocabulary_size)
    return {name: bench.evaluate(matrix, split) for name, matrix in scores.items()}


def run(args) -> dict:
    started = time.perf_counter()
    bench, checks = load_bench(args)
    data, v = bench.data, bench.validation
    print(f"\n=== {bench.spec.name}: {args.spec} — {data.users} users, {data.items} items (V = "
          f"{data.vocabulary_size}), {data.train_events} training events; validation {len(v.users)} users, full "
          f"ranking{', history excluded' if bench.spec.evaluation.exclude_history else ''}; test "
          f"{'read (--test)' if args.test else 'unused'}; threads {args.threads}", flush=True)

    results = baseline_results(bench, "validation")
    peers, notes = [], []
    try:
        notes += recbole_shims()
    except ImportError as error:                             # the rest still runs
        notes.append(f"RecBole peers skipped: {error} (pip install -e .[bench])")
        args.peers = []
    for key in args.peers:
        peer = recbole_peer(key, bench, args)
        print(f"  {peer.name}: fit {peer.fit_seconds:.1f} s; {peer.notes[0]}", flush=True)
        peers.append(peer)
    if peers and not bench.spec.training.steps_per_epoch:     # one pass of data.train is one epoch
        sequences = targets = 0
        for _, y in data.train.as_numpy_iterator():
            sequences, targets = sequences + len(y), targets + int((y != 0).sum())
        prefixes = sum(max(0, len(seq) - 1) for seq in data.train_sequences)
        notes.append(f"training data per epoch: our recommender's data.train holds {targets} next-item targets in "
                     f"{sequences} sequences of ≤ {bench.max_history} steps; RecBole's {prefixes} prefix examples "
                     "have one target each")
    model = {}
    figures, message = model_report(args.model_report, bench, results)
    if figures:
        model["seqkeras (report)"] = figures
    if message:
        notes.append(message)
    for peer in peers:
        model[peer.name] = bench.evaluate(peer.scores)
    results = {**model, **results}
    speed_rows, speed_setting = ([], {}) if args.skip_speed else speed(bench, args)

    print(f"\nvalidation: {len(v.users)} users, full ranking over {data.items} items, history excluded, "
          "pessimistic ties\n")
    print(evaluation.compare(results, bench.ks))
    if peers:
        print("\n" + peer_table(peers))
        print("\n" + own_table(peers, bench, "validation"))
    for peer in peers:
        for line in peer.notes:
            print(f"  {peer.name}: {line}")
    test_results = {}
    if args.test and peers:
        test_results = {p.name: bench.evaluate(p.test_scores, "test") for p in peers}
        test_results.update(baseline_results(bench, "test"))
        print(f"\ntest (the final figure): {len(data.splits['test'].users)} users\n")
        print(evaluation.compare(test_results, bench.ks))
        print("\n" + own_table(peers, bench, "test"))
    if speed_rows:
        print(f"\ntraining speed: {speed_setting['batches']} batches of {speed_setting['batch_size']} sequences "
              f"({speed_setting['targets']} next-item targets; widths {speed_setting['widths'][0]}.."
              f"{speed_setting['widths'][-1]}), timed on the second pass, {args.threads} thread(s); RecBole: as many "
              "prefix examples per batch, one target each\n" + speed_table(speed_rows))
    checks += [c for p in peers for c in p.checks]
    print("\nchecks passed:\n" + "\n".join(f"  {c}" for c in checks))
    if notes:
        print("notes:\n" + "\n".join(f"  {n}" for n in notes))

    output = pathlib.Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "spec": args.spec, "quick": args.quick, "threads": args.threads, "arguments": vars(args),
        "split": {"users": data.users, "items": data.items, "vocabulary_size": data.vocabulary_size,
                  "train_events": data.train_events, "validation_users": len(v.users), "ks": list(bench.ks),
                  "exclude_history": bench.spec.evaluation.exclude_history},
        "results": results, "test_results": test_results,
        "peers": {p.name: {"protocol": p.protocol, "fit_seconds": p.fit_seconds, "epochs_run": p.epochs_run,
                           "best_epoch": p.best_epoch, "stopped_by": p.stopped,
                           "train_examples_per_second": p.examples_per_second, "recbole_own": p.recbole_own,
                           "recbole_own_test": p.recbole_own_test, "history": p.history, "notes": p.notes,
                           "checks": p.checks} for p in peers},
        "speed": speed_rows, "speed_setting": speed_setting, "checks": checks, "notes": notes,
        "versions": versions(PEER_PACKAGES), "seconds": time.perf_counter() - started,
    }
    output.write_text(json.dumps(record, indent=1, default=float))
    print(f"wrote {output} ({record['seconds']:.0f} s)")
    return record


def main(argv=None):
    args = parse_args(argv)
    threads = limit_threads(args.threads)
    logging.getLogger().setLevel(logging.ERROR)            # RecBole logs through the root logger
    warnings.filterwarnings("ignore", module="recbole")                     # pandas FutureWarnings in its loader
    warnings.filterwarnings("ignore", message=".*torch.cuda.amp.*")          # its GradScaler(enabled=False)
    warnings.filterwarnings("ignore", category=FutureWarning, module="pandas")
    with threads:
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
