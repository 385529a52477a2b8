"""SkipGram: the sparse SGD step (plain and proximal) against a NumPy reference, loss
decrease, fit, spec."""

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from seqkeras.word2vec import data as w2v
from seqkeras.word2vec.model import BLOCK, SkipGram
from seqkeras.word2vec.train import linear_learning_rate, train

REPO = pathlib.Path(__file__).resolve().parents[1]


def _reference_step(W, C, batch, lr, L, block, proximal=False):
    """Per-pair loop over the lecture's update equations, with the negatives of each
    block of `block` consecutive targets pooled: a target with n positive pairs meets
    every negative of its block with weight n / block. `proximal`: each row's summed
    update scaled by 1 / (1 + lr·Σ σ(1−σ)‖y‖²)."""
    dW, dC = np.zeros_like(W), np.zeros_like(C)
    sW, sC = np.zeros(len(W)), np.zeros(len(C))
    t, rows, win, neg = batch["targets"], batch["rows"], batch["windows"], batch["negatives"]
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    loss = 0.0
    for i in range(len(t)):
        w = W[t[i]]
        n = 0
        for o in w2v.offsets(L):
            j = i + o
            if rows[i] < 0 or not 0 <= j < len(t) or rows[j] != rows[i] or abs(o) > win[i]:
                continue
            n += 1
            c = C[t[j]]
            p = sig(c @ w)
            loss -= np.log(p)
            dC[t[j]] += (1 - p) * w
            dW[t[i]] += (1 - p) * c
            sC[t[j]] += p * (1 - p) * (w @ w)
            sW[t[i]] += p * (1 - p) * (c @ c)
        start = i // block * block
        for m in neg[start: start + block].ravel():
            if m == t[i] or m == 0:
                continue
            p = sig(C[m] @ w)
            loss -= n / block * np.log(1 - p)
            dC[m] -= n / block * p * w
            dW[t[i]] -= n / block * p * C[m]
            sC[m] += n / block * p * (1 - p) * (w @ w)
            sW[t[i]] += n / block * p * (1 - p) * (C[m] @ C[m])
    if not proximal:
        sW[:], sC[:] = 0.0, 0.0
    return W + (lr / (1 + lr * sW))[:, None] * dW, C + (lr / (1 + lr * sC))[:, None] * dC, loss


@pytest.mark.parametrize("damping", ["none", "proximal"])
def test_step_matches_reference(damping):
    rng = np.random.default_rng(0)
    V, D, L = 12, 4, 2
    model = SkipGram(V, D, window=L, damping=damping, jit_compile=False)
    model.context_embeddings.assign(rng.normal(0, 0.3, (V, D)).astype("float32"))
    W0, C0 = model.target_embeddings.numpy(), model.context_embeddings.numpy()
    batch = {"targets": np.array([2, 3, 4, 5, 6, 2, 7, 0], np.int32),
             "rows": np.array([0, 0, 0, 0, 1, 1, 1, -1], np.int32),
             "windows": np.array([1, 2, 2, 1, 2, 1, 2, 0], np.int32),
             "negatives": rng.integers(2, V, (8, 3)).astype(np.int32)}
    batch["negatives"][0, 0] = 2                              # equals its target: skipped
    W1, C1, loss_ref = _reference_step(W0, C0, batch, 0.1, L, BLOCK, proximal=damping == "proximal")
    loss, pairs = model.train_batch({k: tf.constant(v) for k, v in batch.items()}, 0.1)
    np.testing.assert_allclose(model.target_embeddings.numpy(), W1, atol=1e-5)
    np.testing.assert_allclose(model.context_embeddings.numpy(), C1, atol=1e-5)
    np.testing.assert_allclose(float(loss), loss_ref, rtol=1e-5)
    assert int(pairs) == 14


@pytest.mark.parametrize("jit", [False, True])
def test_step_matches_reference_across_blocks(jit):
    """A batch longer than the step's blocks (`model.BLOCK` tokens), lines that cross
    block boundaries, the largest window, a ragged last block and padding."""
    rng = np.random.default_rng(1)
    V, D, L, T = 40, 6, 5, 3 * 32 + 7
    model = SkipGram(V, D, window=L, jit_compile=jit)
    model.context_embeddings.assign(rng.normal(0, 0.3, (V, D)).astype("float32"))
    W0, C0 = model.target_embeddings.numpy(), model.context_embeddings.numpy()
    rows = np.sort(rng.integers(0, 9, T)).astype(np.int32)
    rows[-3:] = -1                                              # padding: id 0, no negatives
    batch = {"targets": np.where(rows >= 0, rng.integers(2, V, T), 0).astype(np.int32), "rows": rows,
             "windows": np.where(rows >= 0, rng.integers(1, L + 1, T), 0).astype(np.int32),
             "negatives": np.where(rows[:, None] >= 0, rng.integers(2, V, (T, 5)), 0).astype(np.int32)}
    batch["negatives"][5, 2] = batch["targets"][7]               # equals a target of its block: skipped for it
    W1, C1, loss_ref = _reference_step(W0, C0, batch, 0.05, L, BLOCK, proximal=True)
    loss, _ = model.train_batch({k: tf.constant(v) for k, v in batch.items()}, 0.05)
    np.testing.assert_allclose(model.target_embeddings.numpy(), W1, atol=1e-5)
    np.testing.assert_allclose(model.context_embeddings.numpy(), C1, atol=1e-5)
    np.testing.assert_allclose(float(loss), loss_ref, rtol=1e-5)


def test_proximal_step_does_not_overshoot_a_frequent_word():
    """One line of 400 tokens of two words (one very frequent row): summing the ~4000
    updates of each row overshoots and raises the loss; the proximal step lowers it."""
    rng = np.random.default_rng(0)
    T, V, D, L = 400, 6, 8, 5
    batch = {"targets": rng.choice([2, 3], T).astype(np.int32), "rows": np.zeros(T, np.int32),
             "windows": np.full(T, L, np.int32), "negatives": rng.integers(2, V, (T, 5)).astype(np.int32)}
    batch = {k: tf.constant(v) for k, v in batch.items()}
    losses = {}
    for damping in ("none", "proximal"):
        model = SkipGram(V, D, window=L, damping=damping, jit_compile=False)
        model.target_embeddings.assign(rng.normal(0, 0.5, (V, D)).astype("float32"))
        model.context_embeddings.assign(rng.normal(0, 0.5, (V, D)).astype("float32"))
        before, _ = model.train_batch(batch, 0.025)
        after, _ = model.train_batch(batch, 0.0)              # α = 0: the loss only
        losses[damping] = (float(before), float(after))
        assert np.isfinite(model.vectors()).all()
    assert losses["none"][1] > losses["none"][0], losses
    assert losses["proximal"][1] < losses["proximal"][0], losses


def test_linear_decay():
    assert linear_learning_rate(0.025, 1e-6, 0, 100) == 0.025
    assert linear_learning_rate(0.025, 1e-6, 50, 100) == pytest.approx(0.0125)
    assert linear_learning_rate(0.025, 1e-6, 100, 100) == 1e-6


def test_loss_decreases_on_tiny_corpus(tmp_path):
    words = [f"w{i}" for i in range(30)]
    rng = np.random.default_rng(1)
    # two "topics": words co-occur within their half only
    lines = [" ".join(rng.choice(words[:15] if i % 2 else words[15:], 20)) for i in range(200)]
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(lines) + "\n")
    lines_ds = w2v.corpus_lines(str(path))
    vocab, stats = w2v.build_vocabulary(lines_ds, min_count=1, standardize_mode="none")
    config = w2v.SkipGramConfig(window=3, sample=0.0, batch_words=1000, seed=0)
    model = SkipGram(len(vocab), 16, window=3, seed=0)
    report = train(model, lines_ds, vocab, stats, config, epochs=4, learning_rate=0.05,
                   standardize_mode="none", verbose=0)
    assert report.history[-1] < report.history[0] * 0.95, report.history
    assert report.words == 4 * stats.words
    vectors = model.vectors()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    a, b, c = vocab.id("w0"), vocab.id("w1"), vocab.id("w20")
    assert unit[a] @ unit[b] > unit[a] @ unit[c]


def test_fit_path_and_spec(tmp_path):
    from seqkeras.pipeline import SpecError, load_spec, registry
    import seqkeras.word2vec as w2v_app

    spec = load_spec(REPO / "pipelines" / "word2vec.toml")
    assert spec.model.window == 5 and spec.data.sources[0] == "imdb/train.csv.gz#text"
    bad = tmp_path / "bad.toml"
    bad.write_text('application = "word2vec"\nname = "x"\n[model]\nwindoww = 3\n')
    with pytest.raises(SpecError, match="windoww"):
        load_spec(bad)
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(["the cat sat on the mat", "the dog sat on the log"] * 20) + "\n")
    spec = w2v_app.Spec(name="tiny", data=w2v_app.DataSpec(sources=[str(corpus)], min_count=1, batch_words=64),
                        model=w2v_app.ModelSpec(dim=8, window=2))
    spec.training.epochs = 2
    app = registry.get("word2vec")
    data = app.build_data(spec, tmp_path, tmp_path)
    assert (tmp_path / "vocabulary.txt").is_file()
    assert data.summary()["vocabulary_size"] == data.vocabulary_size == len(data.vocabulary)
    model = app.make_model(spec, data)
    history = model.fit(data.train, epochs=2, callbacks=app.callbacks(spec, data), verbose=0)
    assert len(history.history["loss"]) == 2
    assert all(rate > 0 for rate in history.history["words/s"])     # the progress bar's speed
    assert float(model.words_done.numpy()) == 2 * data.words


@pytest.mark.parametrize("key, value", [("optimizer", '"adam"'), ("clip_norm", "1.0"), ("batch_size", "8"),
                                        ("steps_per_epoch", "10"), ("precision", '"mixed_bfloat16"'),
                                        ("early_stopping", "2")])
def test_shared_keys_the_skipgram_step_ignores_are_rejected(tmp_path, key, value):
    from seqkeras.pipeline import SpecError, load_spec

    spec = tmp_path / "w2v.toml"
    spec.write_text(f'application = "word2vec"\n[training]\n{key} = {value}\n')
    with pytest.raises(SpecError, match=f"training.{key}"):
        load_spec(spec)
    spec.write_text('application = "word2vec"\n[training]\noptimizer = "sgd"\nlearning_rate = 0.05\n'
                    'max_minutes = 1.0\n')
    assert load_spec(spec).training.learning_rate == 0.05                 # what it does honour
    spec.write_text('application = "word2vec"\n[tuning]\nobjective = "val_loss"\n')
    with pytest.raises(SpecError, match="tuning.objective"):              # fit logs no validation metrics
        load_spec(spec)


def test_tuning_trials_sample_with_their_own_window(tmp_path):
    import keras_tuner

    from seqkeras.pipeline import registry
    import seqkeras.word2vec as w2v_app

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(["the cat sat on the big mat today", "the dog sat on the old log again"] * 10))
    spec = w2v_app.Spec(name="tiny", data=w2v_app.DataSpec(sources=[str(corpus)], min_count=1, batch_words=64),
                        model=w2v_app.ModelSpec(dim=4, window=1, sample=0.0))
    spec.tuning.space = {"model.window": [4]}
    app = registry.get("word2vec")
    data = app.build_data(spec, tmp_path, None)

    class Recorder:
        def fit(self, x, **kwargs):
            self.batches = x

    recorder = Recorder()
    app.hypermodel(spec, data).fit(keras_tuner.HyperParameters(), recorder, x=data.train, epochs=1)
    widest = lambda batches: max(int(b["windows"].numpy().max()) for b in batches)  # noqa: E731
    assert widest(data.train) == 1 and widest(recorder.batches) == 4
