"""The language-model serving contract (SPEC §6): generate, generate_beam, score."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from without_seqkeras import call_signatures
from seqkeras import serving
from seqkeras.cells import GRUCell, LSTMCell
from seqkeras.data.tokenizers import CharacterTokenizer, WordTokenizer
from seqkeras.language_model.model import LanguageModel, build_language_model
from seqkeras.language_model.server import LanguageModelServer, export_language_model
from seqkeras.layers import StackedRecurrent

# -- tiny trained language models (the LM contract: "embedding", "recurrent", "logits") --
WORD_CORPUS = ["the cat sat on the mat", "a dog ran to the park", "my bird sang in the tree"]
CHAR_CORPUS = ["hello world\n", "help me well\n"]


def build_lm(vocab_size, units=(24, 24), embedding_dim=16, residual=False, seed=0):
    """A `LanguageModel`: Embedding → StackedRecurrent(LSTM, GRU, ...) → Dense "logits"."""
    keras.utils.set_random_seed(seed)
    cells = [LSTMCell(units[0])] + [GRUCell(u) for u in units[1:]]
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")(inputs)
    x = keras.layers.Dropout(0.1)(x)
    x = StackedRecurrent(cells, return_sequences=True, residual=residual, name="recurrent")(x)
    x = keras.layers.Dropout(0.1)(x)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    return LanguageModel(inputs, logits)


def train(model, stream, steps=150, window=24, learning_rate=0.02, seed=0):
    """A few Adam steps on random windows of one id stream (stateless, teacher forcing)."""
    rng = np.random.default_rng(seed)
    stream = np.asarray(stream, np.int32)
    starts = rng.integers(0, len(stream) - window - 1, size=(steps, 8))
    x = np.stack([[stream[s:s + window] for s in row] for row in starts])
    y = np.stack([[stream[s + 1:s + window + 1] for s in row] for row in starts])
    model.compile(keras.optimizers.Adam(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x.reshape(-1, window), y.reshape(-1, window), batch_size=8, epochs=1,
                        verbose=0, shuffle=False)
    return history.history["loss"][-1]


def word_lm(seed=0, steps=150):
    tokenizer = WordTokenizer(add_eos=True)
    tokenizer.adapt(tf.data.Dataset.from_tensor_slices(WORD_CORPUS), reserved=("<pad>", "<unk>", "<eos>"))
    eos = tokenizer.vocabulary.eos_id
    lines = tokenizer(tf.constant(WORD_CORPUS)).to_list()
    # A stream that starts with <eos>, as a Mikolov stream does after the first line.
    stream = [eos] + [i for _ in range(40) for line in lines for i in line]
    model = build_lm(len(tokenizer.vocabulary), seed=seed)
    train(model, stream, steps=steps, seed=seed)
    return model, tokenizer


def char_lm(seed=0, steps=150):
    tokenizer = CharacterTokenizer()
    tokenizer.adapt(tf.data.Dataset.from_tensor_slices(CHAR_CORPUS))
    stream = tokenizer(tf.constant(["".join(CHAR_CORPUS) * 30])).flat_values.numpy()
    model = build_lm(len(tokenizer.vocabulary), seed=seed, residual=True, units=(20, 20))
    train(model, stream, steps=steps, seed=seed)
    return model, tokenizer


@pytest.fixture(scope="module")
def word():
    model, tokenizer = word_lm()
    return model, tokenizer, LanguageModelServer(model, tokenizer)


@pytest.fixture(scope="module")
def char():
    model, tokenizer = char_lm()
    return model, tokenizer, LanguageModelServer(model, tokenizer)


@pytest.fixture(scope="module")
def exported(word, tmp_path_factory):
    model, tokenizer, _ = word
    base = tmp_path_factory.mktemp("saved_models")
    return export_language_model(model, tokenizer, base, "word_lm")


def texts(tensor):
    return [t.decode("utf-8") for t in tensor.numpy()]


def generate(server, prompts, max_new_tokens=12, temperature=0.0, top_k=0, top_p=1.0, seed=0):
    out = server.generate(tf.constant(prompts, tf.string), tf.constant(max_new_tokens), tf.constant(temperature),
                          tf.constant(top_k), tf.constant(top_p), tf.constant(seed))
    return texts(out["text"])


def beam(server, prompts, max_new_tokens=12, beam_width=4):
    out = server.generate_beam(tf.constant(prompts, tf.string), tf.constant(max_new_tokens), tf.constant(beam_width))
    return texts(out["text"]), out["score"].numpy()


def python_greedy(server, tokenizer, prompt, max_new_tokens):
    """Reference: feed start token + prompt one id at a time through `step`, then argmax."""
    vocabulary = tokenizer.vocabulary
    ids = [vocabulary.eos_id] + vocabulary.ids(prompt.split())
    states = [tf.zeros([1, s]) for s in server.state_sizes]
    for i in ids:
        logits, states = server.step(tf.constant([i], tf.int32), states)
    out = []
    for _ in range(max_new_tokens):
        token = int(np.argmax(logits.numpy()[0]))
        if token == vocabulary.eos_id:
            break
        if token not in (vocabulary.pad_id, vocabulary.eos_id):  # detokenize drops them
            out.append(vocabulary.tokens[token])
        logits, states = server.step(tf.constant([token], tf.int32), states)
    return " ".join(out)


def direct_log_prob(model, ids):
    """Σ_{t≥1} log p(ids[t] | ids[:t]) from the Keras model on the whole sequence at once."""
    logits = np.asarray(model(np.asarray([ids], np.int32), training=False), np.float64)[0]
    log_probs = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
        - logits.max(-1, keepdims=True)
    return float(sum(log_probs[t - 1, ids[t]] for t in range(1, len(ids))))


# -- generate ------------------------------------------------------------------------
def test_trained_model_continues_the_corpus(word):
    _, _, server = word
    assert generate(server, ["the cat", "a dog", "my bird sang"]) == \
        ["sat on the mat", "ran to the park", "in the tree"]


def test_greedy_generation_equals_python_loop_over_step(word):
    _, tokenizer, server = word
    prompts = ["the cat", "a dog ran", "the", "", "zebra the"]
    for n in (3, 12):
        assert generate(server, prompts, n) == [python_greedy(server, tokenizer, p, n) for p in prompts]


def test_beam_width_one_and_top_k_one_equal_greedy(word):
    _, _, server = word
    prompts = ["the cat", "a", "my bird", "", "the park"]
    greedy = generate(server, prompts)
    assert beam(server, prompts, beam_width=1)[0] == greedy
    assert generate(server, prompts, temperature=1.3, top_k=1, seed=9) == greedy


def test_beam_scores_are_log_probabilities_of_the_returned_text(word):
    model, tokenizer, server = word
    prompts = ["the cat", "a dog", "the"]
    out, scores = beam(server, prompts, beam_width=4)
    eos = tokenizer.vocabulary.eos_id
    for prompt, text, score in zip(prompts, out, scores):
        # score = log p(text <eos> | <eos> prompt): the stream's log-prob minus the prompt's.
        context = [eos] + tokenizer.vocabulary.ids(prompt.split())
        ids = context + tokenizer.vocabulary.ids(text.split()) + [eos]
        np.testing.assert_allclose(score, direct_log_prob(model, ids) - direct_log_prob(model, context),
                                   atol=1e-4)
        assert score <= 0


def test_seeded_sampling_is_deterministic(word):
    _, _, server = word
    prompts = ["the", "a", "my", "the cat", "", "a dog", "my bird", "the mat"]
    first = generate(server, prompts, temperature=3.0, top_p=0.99, seed=42)
    assert generate(server, prompts, temperature=3.0, top_p=0.99, seed=42) == first
    assert generate(server, prompts, temperature=3.0, top_p=0.99, seed=43) != first


def test_empty_and_invalid_requests_have_defined_results(word):
    _, _, server = word
    assert generate(server, ["", "the cat"], max_new_tokens=-5) == ["", ""]
    assert generate(server, ["", "the cat"], max_new_tokens=0) == ["", ""]
    assert generate(server, []) == []
    assert beam(server, [])[0] == []
    assert generate(server, [""])[0] != ""  # starts from <eos>: a new sentence
    out, scores = beam(server, ["the cat"], max_new_tokens=0)
    assert out == [""] and scores.tolist() == [0.0]
    # beam_width ≤ 0 means the default; a huge width is clamped to the vocabulary.
    assert beam(server, ["the cat"], beam_width=0)[0] == beam(server, ["the cat"], beam_width=4)[0]
    assert beam(server, ["the cat"], beam_width=10**6)[0] == ["sat on the mat"]
    # Degenerate sampling parameters stay defined.
    assert generate(server, ["the cat"], temperature=-1.0) == ["sat on the mat"]
    assert generate(server, ["the cat"], temperature=1.0, top_k=-3, top_p=0.0) == ["sat on the mat"]
    assert len(generate(server, ["the cat"], temperature=1.0, top_k=10**6, top_p=7.0)) == 1


def test_invalid_utf8_is_an_unknown_token_not_an_error(word, char):
    _, tokenizer, server = word
    bad = tf.constant([b"the \xff\xfe cat", b"the cat"])
    out = server.score(bad)
    assert out["num_tokens"].numpy().tolist() == [3, 2]
    assert len(texts(server.generate(bad, 3, 0.0, 0, 1.0, 0)["text"])) == 2
    assert char[2].score(tf.constant([b"he\xffllo"]))["num_tokens"].numpy().tolist() == [5]


def test_max_new_tokens_is_capped(word):
    model, tokenizer, _ = word
    server = LanguageModelServer(model, tokenizer, max_new_tokens_cap=2)
    assert generate(server, ["the cat"], max_new_tokens=100) == ["sat on"]
    assert beam(server, ["the cat"], max_new_tokens=100)[0] == ["sat on"]


def test_long_prompts_keep_their_last_tokens(word):
    model, tokenizer, _ = word
    server = LanguageModelServer(model, tokenizer, max_prompt_tokens=2)
    full = LanguageModelServer(model, tokenizer)
    assert generate(server, ["zebra zebra zebra the cat"]) == generate(full, ["the cat"])


def test_character_model_continuation_joins_without_separator(char):
    _, tokenizer, server = char
    out = generate(server, ["hello wor", "help me w", ""], max_new_tokens=4)
    assert out[:2] == ["ld\nh", "ell\n"]
    assert len(out[2]) == 4  # no start token in this vocabulary: zero state, logits(0)
    sampled = generate(server, ["hel"], max_new_tokens=30, temperature=1.0, seed=1)[0]
    assert len(sampled) == 30 and set(sampled) <= set("".join(tokenizer.vocabulary.tokens[2:]))


# -- score ---------------------------------------------------------------------------
def test_score_equals_direct_keras_computation(word):
    model, tokenizer, server = word
    vocabulary = tokenizer.vocabulary
    eos = vocabulary.eos_id
    cases = {
        "the cat sat on the mat": vocabulary.ids("the cat sat on the mat".split()) + [eos],
        "a dog\nthe cat sat\n": vocabulary.ids("a dog".split()) + [eos] + vocabulary.ids("the cat sat".split()) + [eos],
        "the zebra": vocabulary.ids(["the", "zebra"]) + [eos],
        "the": vocabulary.ids(["the"]) + [eos],
    }
    chunked = LanguageModelServer(model, tokenizer, score_chunk_length=3)
    for scorer in (server, chunked):
        out = scorer.score(tf.constant(list(cases)))
        for i, ids in enumerate(cases.values()):
            expected = direct_log_prob(model, ids)
            np.testing.assert_allclose(out["log_prob"].numpy()[i], expected, rtol=1e-5, atol=1e-4)
            assert out["num_tokens"].numpy()[i] == len(ids) - 1
            np.testing.assert_allclose(out["perplexity"].numpy()[i], np.exp(-expected / (len(ids) - 1)), rtol=1e-4)


def test_score_of_empty_text_is_zero_tokens(word, char):
    for _, _, server in (word, char):
        out = server.score(tf.constant(["", "the cat"]))
        assert out["log_prob"].numpy()[0] == 0.0 and out["num_tokens"].numpy()[0] == 0
        assert np.isnan(out["perplexity"].numpy()[0])
        assert out["num_tokens"].numpy()[1] > 0
    out = word[2].score(tf.constant([], tf.string))
    assert out["log_prob"].shape == (0,)


def test_score_of_100k_tokens_in_chunks_matches_direct_computation(char):
    _, tokenizer, _ = char
    model = build_lm(len(tokenizer.vocabulary), units=(8,), embedding_dim=8)  # tiny: 100k sequential steps
    rng = np.random.default_rng(0)
    alphabet = list("helo wrdpm\n")
    text = "".join(rng.choice(alphabet, size=100_000))
    ids = tokenizer(tf.constant([text])).flat_values.numpy().tolist()
    assert len(ids) == 100_000
    server = LanguageModelServer(model, tokenizer, score_chunk_length=1000)
    out = server.score(tf.constant([text, "hello"]))
    assert out["num_tokens"].numpy().tolist() == [99_999, 4]
    expected = direct_log_prob(model, ids)
    np.testing.assert_allclose(out["log_prob"].numpy()[0], expected, rtol=1e-4)


# -- contract checks -----------------------------------------------------------------
def test_model_and_tokenizer_mismatches_are_clear_errors(word, char):
    model, tokenizer, _ = word
    with pytest.raises(ValueError, match="vocabulary"):
        LanguageModelServer(model, char[1])
    plain = keras.Sequential([keras.Input((None,), dtype="int32"),
                              keras.layers.Embedding(len(tokenizer.vocabulary), 4, name="embedding")])
    with pytest.raises(ValueError, match="'recurrent'"):
        LanguageModelServer(plain, tokenizer)
    with pytest.raises(ValueError, match="score_chunk_length"):
        LanguageModelServer(model, tokenizer, score_chunk_length=0)


def test_untrained_model_with_residual_stack_matches_python_loop():
    model, tokenizer = word_lm(steps=1)
    residual = build_lm(len(tokenizer.vocabulary), units=(16, 16, 16), embedding_dim=16, residual=True)
    server = LanguageModelServer(residual, tokenizer)
    prompts = ["the cat", "", "a b c"]
    assert generate(server, prompts, 6) == [python_greedy(server, tokenizer, p, 6) for p in prompts]


# -- the exported SavedModel ---------------------------------------------------------
def test_export_layout_and_warmup(exported):
    assert exported.name == "1" and exported.parent.name == "word_lm"
    records = serving.read_warmup_requests(exported)
    assert {name for name, _ in records} == {"word_lm"}
    assert {r.signature_name for _, r in records} == {"serving_default", "generate", "generate_beam", "score"}
    # No XLA-only functions: TF Serving runs without XLA:CPU JIT by default.
    assert b"_XlaMustCompile" not in (exported / "saved_model.pb").read_bytes()


def test_saved_model_cli_lists_the_three_signatures(exported):
    text = serving.saved_model_cli_show(exported)
    for signature in ("serving_default", "generate", "generate_beam", "score"):
        assert f"signature_def['{signature}']" in text
    for name in ("prompt", "max_new_tokens", "temperature", "top_k", "top_p", "seed", "beam_width"):
        assert f"inputs['{name}']" in text
    for name in ("text", "score", "log_prob", "num_tokens", "perplexity"):
        assert f"outputs['{name}']" in text


def test_saved_model_runs_where_seqkeras_cannot_be_imported(exported, word):
    _, _, server = word
    generate_inputs = {"prompt": ["the cat", "a dog", ""], "max_new_tokens": 12, "top_k": 0, "top_p": 1.0,
                       "seed": 0, "temperature": 0.0}
    _, (gen, sampled, beamed, score) = call_signatures(exported, [
        ("generate", generate_inputs),
        ("serving_default", {**generate_inputs, "temperature": 2.0, "top_k": 5, "top_p": 0.9, "seed": 7}),
        ("generate_beam", {"prompt": generate_inputs["prompt"], "max_new_tokens": 12, "beam_width": 3}),
        ("score", {"text": ["the cat sat on the mat", ""]}),
    ])
    out = {"greedy": gen["text"].tolist(), "sampled": sampled["text"].tolist(), "beam": beamed["text"].tolist(),
           "beam_score": beamed["score"].tolist(), "log_prob": score["log_prob"].tolist(),
           "num_tokens": score["num_tokens"].tolist()}
    prompts = ["the cat", "a dog", ""]
    assert out["greedy"] == generate(server, prompts)
    assert out["sampled"] == generate(server, prompts, temperature=2.0, top_k=5, top_p=0.9, seed=7)
    expected_beam, expected_scores = beam(server, prompts, beam_width=3)
    assert out["beam"] == expected_beam
    np.testing.assert_allclose(out["beam_score"], expected_scores, rtol=1e-5)
    expected = server.score(tf.constant(["the cat sat on the mat", ""]))
    np.testing.assert_allclose(out["log_prob"], expected["log_prob"].numpy(), rtol=1e-5)
    assert out["num_tokens"] == expected["num_tokens"].numpy().tolist()


def test_stateful_tied_model_from_the_language_model_builder(word):
    """The application's own builder (fixed-batch stateful stack, tied logits) exports as is."""
    _, tokenizer, _ = word
    model = build_language_model(len(tokenizer.vocabulary), batch_size=4, units=12, layers=2,
                                 tie_embeddings=True, stateful=True)
    ids = tokenizer(tf.constant(["the cat sat on the mat"])).to_tensor().numpy().astype("int32")
    model(np.repeat(ids, 4, axis=0))  # builds it and moves its carried state away from zero
    server = LanguageModelServer(model, tokenizer)
    prompts = ["the cat", "", "a dog ran"]
    assert generate(server, prompts, 5) == [python_greedy(server, tokenizer, p, 5) for p in prompts]
    stream = tokenizer(tf.constant(["a dog ran"])).flat_values.numpy().tolist()
    model.get_layer("recurrent").reset_state()
    expected = direct_log_prob(lambda x, training: model(np.repeat(x, 4, axis=0))[:1], stream)
    np.testing.assert_allclose(server.score(tf.constant(["a dog ran"]))["log_prob"].numpy()[0], expected,
                               rtol=1e-5, atol=1e-4)


def test_mixed_bfloat16_model_exports(word):
    _, tokenizer, _ = word
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_lm(len(tokenizer.vocabulary), units=(16, 16), embedding_dim=16, residual=True)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    server = LanguageModelServer(model, tokenizer)
    assert len(generate(server, ["the cat", ""], 4)) == 2
    assert len(beam(server, ["the cat"], 4)[0]) == 1
    stream = tokenizer(tf.constant(["the cat sat on the mat"])).flat_values.numpy().tolist()
    log_prob = server.score(tf.constant(["the cat sat on the mat"]))["log_prob"].numpy()[0]
    np.testing.assert_allclose(log_prob, direct_log_prob(model, stream), rtol=0.05)
