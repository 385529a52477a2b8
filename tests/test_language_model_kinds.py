"""The language model's kinds ("nnlm", "dilated_cnn") through the application: train on the
BPTT windows, whole-stream evaluation and perplexity by sentence position against a
direct run, export served without seqkeras (score and greedy generation)."""

import numpy as np
import pytest
import tensorflow as tf

from seqkeras.language_model import Spec, nll_by_position, sentence_positions, stream_nll, stream_windows
from seqkeras.pipeline import registry
from seqkeras.pipeline.spec import with_overrides
from test_language_model_server import python_greedy
from without_seqkeras import call_signatures

TEXT = "to be or not to be\nthat is the question\nwhether tis nobler in the mind to suffer\n" * 8


def test_sentence_positions():
    eos = 9
    np.testing.assert_array_equal(sentence_positions([9, 1, 2, 9, 3, 9, 4], eos), [1, 1, 2, 3, 1, 2, 1])
    np.testing.assert_array_equal(sentence_positions([1, 2, 3], eos), [1, 2, 3])


@pytest.mark.parametrize("kind, options", [("nnlm", {"model.context": 3, "model.tie_embeddings": True}),
                                           ("dilated_cnn", {"model.layers": 3})])
def test_kind_trains_evaluates_and_exports(kind, options, tmp_path):
    (tmp_path / "corpus.txt").write_text(TEXT)
    spec = with_overrides(Spec(), {"data.train": str(tmp_path / "corpus.txt"), "data.validation_fraction": 0.25,
                                   "data.level": "word", "data.tokenizer": "whitespace", "model.kind": kind,
                                   "model.layers": 1, "model.units": 8, "training.batch_size": 2,
                                   "training.bptt_length": 5, "training.learning_rate": 0.01, **options})
    spec.validate()
    app = registry.get("language_model")
    data = app.build_data(spec, None, tmp_path)
    model = app.make_model(spec, data)
    history = model.fit(data.train, epochs=1, steps_per_epoch=4, callbacks=app.callbacks(spec, data), verbose=0)
    assert np.isfinite(history.history["loss"]).all()

    # Whole-stream evaluation over windows = one stateless run over each of the B streams.
    metrics = app.evaluate(spec, model, data)
    ids = np.asarray(data.validation_ids, np.int32)
    length = len(ids) // 2
    streams = ids[:2 * length].reshape(2, length)
    outputs, _ = model.run_sequence(streams[:, :-1], None, model.initial_states(2))
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(streams[:, 1:], model.output_logits(outputs)).numpy()
    assert metrics["tokens"] == losses.size
    np.testing.assert_allclose(metrics["nll"], losses.mean(), rtol=1e-5)

    # By position: the same losses grouped by the predicted token's place in its sentence.
    eos = data.tokenizer.vocabulary.eos_id
    groups = nll_by_position(model, ids, eos, 2, 5)
    positions = sentence_positions(ids, eos)[:2 * length].reshape(2, length)[:, 1:]
    np.testing.assert_allclose(groups["1"]["nll"], losses[positions == 1].mean(), rtol=1e-5)
    np.testing.assert_allclose(groups["4-5"]["nll"], losses[(positions >= 4) & (positions <= 5)].mean(), rtol=1e-5)
    assert list(groups)[:4] == ["1", "2", "3", "4-5"] and sum(g["tokens"] for g in groups.values()) == losses.size
    total, count = stream_nll(model, stream_windows(ids, 2, 5))
    np.testing.assert_allclose(sum(g["nll"] * g["tokens"] for g in groups.values()), total, rtol=1e-6)

    # The export, without seqkeras: score = a direct run; greedy generation = a step loop.
    server = app.exporter(spec, model, data)
    version = server.export(tmp_path / "saved_models", "lm", validate=False)   # call_signatures loads it
    text = "to be or not to be"
    calls = [("score", {"text": [text]}),
             ("serving_default", {"prompt": ["to be"], "max_new_tokens": 6, "temperature": 0.0, "top_k": 0,
                                  "top_p": 1.0, "seed": 0})]
    _, (score, generated) = call_signatures(version, calls)
    scored = data.tokenizer(tf.constant([text])).to_list()[0]
    outputs, _ = model.run_sequence(np.asarray([scored[:-1]], np.int32), None, model.initial_states(1))
    log_p = -tf.nn.sparse_softmax_cross_entropy_with_logits(np.asarray([scored[1:]]), model.output_logits(outputs))
    np.testing.assert_allclose(score["log_prob"][0], float(tf.reduce_sum(log_p)), rtol=1e-4)
    expected = python_greedy(server, data.tokenizer, "to be", 6)
    text = generated["text"][0]
    assert (text.decode() if isinstance(text, bytes) else text) == expected


def test_a_search_over_another_kinds_keys_is_refused_before_reading_data(tmp_path):
    """The default space tunes model.cell, which an NNLM ignores: `--tune` names the key."""
    from seqkeras.pipeline import runner
    from seqkeras.pipeline.spec import SpecError

    spec = with_overrides(Spec(), {"data.train": str(tmp_path / "missing.txt"), "data.level": "word",
                                   "data.tokenizer": "whitespace", "model.kind": "nnlm"})
    spec.validate()                                   # loads: a space that is never searched is fine
    with pytest.raises(SpecError, match=r"tuning.space.model.cell.*'rnn' only, not 'nnlm'"):
        runner.run(spec, tmp_path, work_dir=tmp_path, tune=True)
    for kind, space in [("nnlm", {"model.context": [2, 4]}), ("dilated_cnn", {"model.kernel_size": [2, 3]}),
                        ("rnn", {"model.cell": ["lstm", "gru"]})]:
        with_overrides(spec, {"model.kind": kind, "tuning.space": space}).check_tuning_space()
    with pytest.raises(SpecError, match="tuning.space.model.context.*'nnlm' only, not 'dilated_cnn'"):
        with_overrides(spec, {"model.kind": "dilated_cnn", "tuning.space": {"model.context": [2]}}).check_tuning_space()
