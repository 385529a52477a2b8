"""Pretraining the classifier: a tiny language model (ULMFiT,
``model.pretrained_language_model``) or a tiny classifier of another corpus (supervised
transfer, ``model.pretrained_classifier``), trained through the real runner on a CSV
column, initialises a classifier of labelled sentences.

Checked: the cell weights are the source's exactly, level by level (from a language
model the forward direction of a bidirectional encoder, its backward direction staying
fresh; from a classifier both); each embedding row of a token both vocabularies hold is
the source's row of that token (the two number their tokens differently), the other rows
stay fresh; a source classifier's pooling and softmax come too when the classes agree, so
the copy gives the source's probabilities on words both know; a run directory and its
pipeline file name the same run; a mismatched or deep bidirectional encoder, a run of
the wrong application and a missing run are errors that say what is wrong; gradual
unfreezing holds exactly the pretrained parts; the classifier still trains and exports.
"""

import json
import random
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqkeras.data import DataError
from seqkeras.data.sources import csv_column
from seqkeras.pipeline import load_spec, runner
from seqkeras.pipeline.spec import SpecError, with_overrides

POSITIVE, NEGATIVE = ["good", "great", "lovely"], ["bad", "awful", "dull"]
FILLER = ["a", "film", "plot", "the", "was"]
# Words only the language model reads, and one ("lovely") that only the classifier reads.
LM_ONLY = ["movie", "actor", "scene", "story"]


def _reviews(path, count, seed):
    rng = random.Random(seed)
    rows = ["id,label,text"]
    for i in range(count):
        words = [rng.choice(POSITIVE[:2] + NEGATIVE + FILLER + LM_ONLY) for _ in range(rng.randint(4, 9))]
        rows.append(f'{i},{i % 2},"{" ".join(words).capitalize()}, {rng.choice(FILLER)}"')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def _sentences(path, count, seed):
    rng = random.Random(seed)
    rows = ["sentence\tlabel"]
    for _ in range(count):
        label = rng.randint(0, 1)
        words = [rng.choice(POSITIVE if label else NEGATIVE)] + rng.sample(FILLER, rng.randint(1, 4))
        rng.shuffle(words)
        rows.append(f"{' '.join(words)}\t{label}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


LM_SPEC = """
application = "language_model"
name = "{name}"
[data]
train = "reviews.csv#text"
validation_fraction = 0.2
level = "word"
tokenizer = "{tokenizer}"
lowercase = true
[model]
cell = "{cell}"
layers = {layers}
units = 8
jit_compile = "false"
[training]
learning_rate = 0.01
epochs = 1
batch_size = 4
bptt_length = 5
steps_per_epoch = 4
validation_steps = 2
[export]
enabled = false
"""

CLASSIFIER_SPEC = """
application = "classification"
name = "tiny_ulmfit"
[data]
train = "train.tsv"
validation = "valid.tsv"
labels = ["0", "1"]
lowercase = true
[model]
cell = "{cell}"
layers = {layers}
units = 8
embedding_dim = 8
bidirectional = {bidirectional}
pooling = "max"
jit_compile = "false"
{key} = "{target}"
[training]
learning_rate = 0.02
epochs = 1
batch_size = 16
"""


# A classifier of the reviews (another corpus, other labels' meaning aside): the source
# of supervised transfer, built like the bidirectional classifier above.
SOURCE_CLASSIFIER_SPEC = """
application = "classification"
name = "clf_bilstm"
[data]
train = "reviews.csv"
format = "csv"
text_column = "text"
label_column = "label"
validation_fraction = 0.25
labels = ["0", "1"]
lowercase = true
[model]
cell = "lstm"
layers = 1
units = 8
embedding_dim = 8
bidirectional = true
pooling = "max"
jit_compile = "false"
[training]
learning_rate = 0.02
epochs = 1
batch_size = 16
[export]
enabled = false
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Trained with `runner.run`: two tiny language models (1-level LSTM; 2-level GRU on
    Treebank tokens) and a tiny bidirectional classifier of the reviews."""
    root = tmp_path_factory.mktemp("ulmfit")
    data, work = root / "data", root / "runs"
    data.mkdir()
    _reviews(data / "reviews.csv", 120, seed=0)
    _sentences(data / "train.tsv", 96, seed=1)
    _sentences(data / "valid.tsv", 32, seed=2)
    specs = {}
    for name, cell, layers, tokenizer in (("lm_lstm", "lstm", 1, "whitespace"), ("lm_gru2", "gru", 2, "treebank")):
        path = root / f"{name}.toml"
        path.write_text(LM_SPEC.format(name=name, cell=cell, layers=layers, tokenizer=tokenizer), encoding="utf-8")
        runner.run(load_spec(path), data, work_dir=work, export_model=False, verbose=0)
        specs[name] = path
    path = root / "clf_bilstm.toml"
    path.write_text(SOURCE_CLASSIFIER_SPEC, encoding="utf-8")
    runner.run(load_spec(path), data, work_dir=work, export_model=False, verbose=0)
    specs["clf_bilstm"] = path
    return {"root": root, "data": data, "work": work, "specs": specs}


def _classifier_spec(trained, target, cell="lstm", layers=1, bidirectional=False, overrides=None,
                     key="pretrained_language_model"):
    path = trained["root"] / "tiny_ulmfit.toml"
    path.write_text(CLASSIFIER_SPEC.format(cell=cell, layers=layers, bidirectional=str(bidirectional).lower(),
                                           target=target, key=key), encoding="utf-8")
    return load_spec(path, overrides)


def _classifier(trained, spec):
    """(data, model) as the runner builds them, the seed set just before the model."""
    paths = runner.RunPaths.for_spec(spec, trained["work"])
    data = runner.build_data(spec, trained["data"], paths)
    keras.utils.set_random_seed(spec.training.seed)
    return data, runner.application(spec).make_model(spec, data)


def _trained_model(trained, name):
    """(vocabulary tokens, model) of a trained source run, loaded the way `seqkeras evaluate` does."""
    spec = load_spec(trained["specs"][name])
    paths = runner.RunPaths.for_spec(spec, trained["work"])
    data = runner.build_data(spec, trained["data"], paths)
    return data.tokenizer.vocabulary.tokens, runner.load_trained(spec, data, paths)


def _cells(encoder, bidirectional):
    """Forward (and backward) cells of the classifier's encoder, bottom first."""
    levels = encoder.recurrent.levels
    if not bidirectional:
        return [level.cell for level in levels], []
    return [level.forward_layer.cell for level in levels], [level.backward_layer.cell for level in levels]


@pytest.mark.parametrize("name, cell, layers, bidirectional", [
    ("lm_lstm", "lstm", 1, True),
    ("lm_gru2", "gru", 2, False),
])
def test_encoder_and_shared_embedding_rows_are_the_language_models(trained, name, cell, layers, bidirectional):
    lm_tokens, lm = _trained_model(trained, name)
    spec = _classifier_spec(trained, trained["specs"][name], cell, layers, bidirectional)
    data, model = _classifier(trained, spec)
    _, fresh = _classifier(trained, with_overrides(spec, {"model.pretrained_language_model": ""}))

    encoder, fresh_encoder = model.get_layer("encoder"), fresh.get_layer("encoder")
    forward, backward = _cells(encoder, bidirectional)
    lm_cells = [level.cell for level in lm.get_layer("recurrent").levels]
    assert len(forward) == len(lm_cells) == layers
    for mine, theirs in zip(forward, lm_cells):
        for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    for mine, untouched in zip(backward, _cells(fresh_encoder, bidirectional)[1]):   # backward: fresh
        for a, b in zip(mine.get_weights(), untouched.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)

    rows = encoder.embedding.get_weights()[0]
    fresh_rows = fresh_encoder.embedding.get_weights()[0]
    lm_rows = lm.get_layer("embedding").get_weights()[0]
    lm_ids = {token: i for i, token in enumerate(lm_tokens)}
    tokens = data.tokenizer.vocabulary.tokens
    shared = [(i, lm_ids[t]) for i, t in enumerate(tokens) if t in lm_ids]
    assert any(i != j for i, j in shared)                     # the same token under another id
    for i, j in shared:
        np.testing.assert_array_equal(rows[i], lm_rows[j])
    unknown = [i for i, t in enumerate(tokens) if t not in lm_ids]
    assert tokens[unknown[0]] == "lovely" and len(unknown) == 1
    np.testing.assert_array_equal(rows[unknown], fresh_rows[unknown])
    assert not np.isclose(rows[unknown][:, None, :], lm_rows[None]).all(axis=-1).any()
    words = len(tokens) - len(data.tokenizer.vocabulary.reserved)
    assert data.pretrained_words == words - 1 and data.summary()["pretrained_words"] == words - 1


def test_the_initialised_encoder_computes_the_language_models_states(trained):
    """Function, not only weights: on the same words, the unidirectional classifier's
    encoder ends in the state the LM's own forward pass (`run_sequence`) ends in."""
    lm_tokens, lm = _trained_model(trained, "lm_gru2")
    spec = _classifier_spec(trained, trained["specs"]["lm_gru2"], "gru", 2, bidirectional=False)
    data, model = _classifier(trained, spec)
    tokens = data.tokenizer.vocabulary.tokens
    words = [t for t in tokens if t in lm_tokens and t not in data.tokenizer.vocabulary.reserved][:7]
    ids = np.array([[tokens.index(w) for w in words]])
    lm_ids = np.array([[lm_tokens.index(w) for w in words]])
    _, lm_states = lm.run_sequence(lm_ids, None, lm.initial_states(1))
    final = model.get_layer("encoder").recurrent(model.get_layer("encoder").embedding(ids))
    np.testing.assert_allclose(np.asarray(final)[:, -1], np.asarray(lm_states[-1]), rtol=1e-4, atol=1e-5)


def test_a_run_directory_names_the_same_run_as_its_pipeline_file(trained):
    by_file = _classifier(trained, _classifier_spec(trained, trained["specs"]["lm_lstm"]))[1]
    run_dir = trained["work"] / "lm_lstm"
    assert json.loads((run_dir / "report.json").read_text())["spec"]["name"] == "lm_lstm"
    by_dir = _classifier(trained, _classifier_spec(trained, run_dir))[1]
    for a, b in zip(by_file.get_layer("encoder").get_weights(), by_dir.get_layer("encoder").get_weights(),
                    strict=True):
        np.testing.assert_array_equal(a, b)


def test_an_encoder_unlike_the_language_model_is_refused_naming_both(trained):
    spec = _classifier_spec(trained, trained["specs"]["lm_lstm"], overrides={"model.units": 6})
    with pytest.raises(SpecError, match="pretrained_language_model") as error:
        _classifier(trained, spec)
    assert "units=6" in str(error.value) and "units=8" in str(error.value)
    spec = _classifier_spec(trained, trained["specs"]["lm_lstm"], cell="gru")
    with pytest.raises(SpecError, match="cell='gru'.*cell='lstm'"):
        _classifier(trained, spec)
    spec = _classifier_spec(trained, trained["specs"]["lm_gru2"], "gru", 2, bidirectional=True)
    with pytest.raises(SpecError, match="deep bidirectional"):
        _classifier(trained, spec)
    characters = trained["root"] / "char_lm.toml"
    characters.write_text(LM_SPEC.format(name="char_lm", cell="lstm", layers=1, tokenizer="character").replace(
        '"word"', '"char"'), encoding="utf-8")
    with pytest.raises(SpecError, match="word-level"):
        _classifier(trained, _classifier_spec(trained, characters))


def test_a_missing_run_is_an_error_naming_the_path(trained):
    nowhere = trained["root"] / "no_such_run"
    with pytest.raises(SpecError, match=f"pretrained_language_model.*{re.escape(str(nowhere))}"):
        _classifier(trained, _classifier_spec(trained, nowhere))
    untrained = trained["root"] / "untrained_lm.toml"
    untrained.write_text(LM_SPEC.format(name="untrained_lm", cell="lstm", layers=1, tokenizer="whitespace"), encoding="utf-8")
    with pytest.raises(SpecError, match=f"no run directory {re.escape(str(trained['work'] / 'untrained_lm'))}"):
        _classifier(trained, _classifier_spec(trained, untrained))


def test_pretrained_embeddings_and_language_model_are_exclusive(trained):
    with pytest.raises(SpecError, match="set one"):
        _classifier_spec(trained, trained["specs"]["lm_lstm"], overrides={"model.pretrained_embeddings": "v.txt"})
    with pytest.raises(SpecError, match="freeze_pretrained_epochs.*needs something pretrained"):
        _classifier_spec(trained, trained["specs"]["lm_lstm"], overrides={"model.pretrained_language_model": "",
                                                                          "model.freeze_pretrained_epochs": 1})


class _Snapshots(keras.callbacks.Callback):
    """The embedding and both directions' cell weights after every epoch."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(_parts(self.model))


def _parts(model):
    encoder = model.get_layer("encoder")
    level = encoder.recurrent.levels[0]
    return {"embedding": encoder.embedding.get_weights()[0].copy(),
            "forward": [w.copy() for w in level.forward_layer.cell.get_weights()],
            "backward": [w.copy() for w in level.backward_layer.cell.get_weights()]}


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_gradual_unfreezing_trains_the_pretrained_parts_from_the_given_epoch(trained):
    spec = _classifier_spec(trained, trained["specs"]["lm_lstm"], bidirectional=True,
                            overrides={"model.freeze_pretrained_epochs": 1, "training.epochs": 2})
    paths = runner.RunPaths(trained["work"] / "tiny_ulmfit_frozen")
    data, initial = _classifier(trained, spec)
    initial = _parts(initial)
    snapshots = _Snapshots()
    model, _ = runner.train(spec, data, paths, verbose=0, extra_callbacks=[snapshots])

    first, second = snapshots.epochs
    assert _same(first["forward"], data.pretrained_encoder.cells[0])        # epoch 1: frozen
    np.testing.assert_array_equal(first["embedding"], initial["embedding"])
    assert not _same(first["backward"], initial["backward"])                # the fresh direction trains
    assert not _same(second["forward"], first["forward"])                   # epoch 2: everything trains
    assert not np.array_equal(second["embedding"], first["embedding"])
    encoder = model.get_layer("encoder")
    assert encoder.embedding.trainable and all(level.forward_layer.trainable for level in encoder.recurrent.levels)
    loaded = runner.load_trained(spec, data, paths)                         # optimizer slots of every variable
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_initialised_classifier_trains_and_exports(trained):
    spec = _classifier_spec(trained, trained["specs"]["lm_lstm"], bidirectional=True)
    report = runner.run(spec, trained["data"], output=trained["root"] / "saved", work_dir=trained["work"],
                        verbose=0)
    assert np.isfinite(report["validation"]["loss"]) and 0.0 <= report["validation"]["accuracy"] <= 1.0
    assert report["data"]["pretrained_words"] > 0
    assert (trained["root"] / "saved" / "tiny_ulmfit" / "1" / "saved_model.pb").is_file()


def test_csv_column_reads_one_column_as_lines(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('id,text,label\n1,"first, with a comma",0\n2,"two\nlines",1\n3,,0\n', encoding="utf-8")
    lines = [line.decode() for line in csv_column(path, "text").as_numpy_iterator()]
    assert lines == ["first, with a comma", "two\nlines", ""]
    assert [line.decode() for line in csv_column([path, path], 2).as_numpy_iterator()] == ["0", "1", "0"] * 2
    with pytest.raises(DataError, match="missing column 'review'"):
        csv_column(path, "review")
    (tmp_path / "short.csv").write_text("id,text\n1,fine\n2\n", encoding="utf-8")
    with pytest.raises(DataError, match="expected 2"):
        csv_column(tmp_path / "short.csv", "text")
    assert isinstance(csv_column(path, "text").element_spec, tf.TensorSpec)


def _source_classifier_spec(trained, overrides=None):
    return _classifier_spec(trained, trained["specs"]["clf_bilstm"], bidirectional=True, overrides=overrides,
                            key="pretrained_classifier")


def test_a_source_classifier_gives_both_directions_its_head_and_so_its_predictions(trained):
    source_tokens, source = _trained_model(trained, "clf_bilstm")
    data, model = _classifier(trained, _source_classifier_spec(trained))
    forward, backward = _cells(model.get_layer("encoder"), True)
    source_forward, source_backward = _cells(source.get_layer("encoder"), True)
    for mine, theirs in zip(forward + backward, source_forward + source_backward, strict=True):
        for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(model.get_layer("probabilities").get_weights(), source.get_layer("probabilities").get_weights(),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert data.pretrained_encoder.kind == "classifier"

    # Function: on words both vocabularies hold (under different ids), the copy's
    # probabilities are the source's.
    tokens = data.tokenizer.vocabulary.tokens
    words = ["the", "awful", "plot", "was", "good", "a", "film"]
    assert any(tokens.index(w) != source_tokens.index(w) for w in words)
    mine = model(np.array([[tokens.index(w) for w in words]]), training=False)
    theirs = source(np.array([[source_tokens.index(w) for w in words]]), training=False)
    np.testing.assert_allclose(np.asarray(mine), np.asarray(theirs), rtol=1e-5, atol=1e-6)


def test_other_class_names_keep_the_head_fresh(trained):
    spec = _source_classifier_spec(trained, {"data.class_names": ["negative", "positive"]})
    _, model = _classifier(trained, spec)
    _, fresh = _classifier(trained, with_overrides(spec, {"model.pretrained_classifier": ""}))
    for a, b in zip(model.get_layer("probabilities").get_weights(), fresh.get_layer("probabilities").get_weights(),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    _, source = _trained_model(trained, "clf_bilstm")
    np.testing.assert_array_equal(_cells(model.get_layer("encoder"), True)[1][0].get_weights()[0],
                                  _cells(source.get_layer("encoder"), True)[1][0].get_weights()[0])


def test_a_source_classifier_of_another_shape_or_application_is_refused(trained):
    with pytest.raises(SpecError, match="pretrained_classifier.*bidirectional = false"):
        _classifier(trained, _classifier_spec(trained, trained["specs"]["clf_bilstm"], bidirectional=False,
                                              key="pretrained_classifier"))
    with pytest.raises(SpecError, match="pretrained_classifier.*units=6.*units=8"):
        _classifier(trained, _source_classifier_spec(trained, {"model.units": 6}))
    with pytest.raises(SpecError, match="'language_model' pipeline, not a classification one"):
        _classifier(trained, _classifier_spec(trained, trained["specs"]["lm_lstm"], key="pretrained_classifier"))
    with pytest.raises(SpecError, match="'classification' run, not a language_model run"):
        _classifier(trained, _classifier_spec(trained, trained["work"] / "clf_bilstm"))
    with pytest.raises(SpecError, match="both initialise the embedding: set one"):
        _source_classifier_spec(trained, {"model.pretrained_language_model": str(trained["specs"]["lm_lstm"])})


def test_gradual_unfreezing_after_a_classifier_holds_both_directions(trained):
    spec = _source_classifier_spec(trained, {"model.freeze_pretrained_epochs": 1, "training.epochs": 2,
                                             "data.class_names": ["negative", "positive"]})
    paths = runner.RunPaths(trained["work"] / "tiny_transfer_frozen")
    data, _ = _classifier(trained, spec)
    snapshots = _Snapshots()
    model, _ = runner.train(spec, data, paths, verbose=0, extra_callbacks=[snapshots])
    first, second = snapshots.epochs
    assert _same(first["forward"], data.pretrained_encoder.cells[0])           # epoch 1: frozen
    assert _same(first["backward"], data.pretrained_encoder.backward_cells[0])
    assert not _same(second["backward"], first["backward"])                    # epoch 2: trains
    assert model.get_layer("encoder").recurrent.levels[0].trainable
