"""Samplers against Python reference loops on a toy recurrent "model".

The toy model is a Markov chain with a counter state: logits = TABLE[token] and
the state counts the steps, so every expected sequence can be worked out by hand.
"""

import numpy as np
import pytest
import tensorflow as tf

from seqkeras.sampling import BeamSampler, GreedySampler, RandomSampler, Sampler, top_k_filter, top_p_filter

V = 6
END = 5
rng = np.random.default_rng(0)
TABLE = rng.normal(size=(V, V)).astype("float32") * 2.0


def step_fn(token_ids, states):
    logits = tf.gather(tf.constant(TABLE), token_ids)
    return logits, [states[0] + 1.0]


def start(tokens):
    tokens = tf.constant(tokens, tf.int32)
    return tf.gather(tf.constant(TABLE), tokens), [tf.zeros([len(tokens.numpy()), 1])]


def python_greedy(first_token, steps, end_id=None):
    logits, out = TABLE[first_token], []
    for _ in range(steps):
        token = int(np.argmax(logits))
        out.append(token)
        if token == end_id:
            break
        logits = TABLE[token]
    return out


def rows(tokens, lengths):
    return [list(r[:n]) for r, n in zip(tokens.numpy(), lengths.numpy())]


@pytest.mark.parametrize("end_id", [None, END])
def test_greedy_equals_python_loop(end_id):
    logits, states = start([0, 1, 2, 3])
    tokens, lengths = GreedySampler()(step_fn, logits, states, 12, end_id=end_id)
    assert rows(tokens, lengths) == [python_greedy(t, 12, end_id) for t in range(4)]
    # After the end token a row holds padding.
    for row, n in zip(tokens.numpy(), lengths.numpy()):
        assert (row[n:] == 0).all()


def test_greedy_inside_tf_function_with_tensor_arguments():
    logits, states = start([0, 1])
    run = tf.function(lambda n: GreedySampler()(step_fn, logits, states, n, end_id=END))
    tokens, lengths = run(tf.constant(7))
    assert rows(tokens, lengths) == [python_greedy(t, 7, END) for t in range(2)]


def test_zero_and_negative_max_new_tokens_give_empty_outputs():
    logits, states = start([0, 1])
    for n in (0, -3):
        tokens, lengths = GreedySampler()(step_fn, logits, states, n)
        assert tokens.shape == (2, 0) and lengths.numpy().tolist() == [0, 0]


def test_loop_stops_when_every_row_ended():
    # Make END the argmax after every token: one step, then all rows are done.
    table = np.zeros((V, V), "float32")
    table[:, END] = 5.0

    def ending(token_ids, states):
        return tf.gather(tf.constant(table), token_ids), states

    tokens, lengths = GreedySampler()(ending, tf.constant(table[[0, 1]]), [tf.zeros([2, 1])], 50, end_id=END)
    assert tokens.shape == (2, 1) and lengths.numpy().tolist() == [1, 1]


def test_top_k_one_equals_greedy():
    logits, states = start([0, 1, 2, 3])
    greedy, _ = GreedySampler()(step_fn, logits, states, 10)
    sampled, _ = RandomSampler(temperature=1.7, top_k=1, seed=3)(step_fn, logits, states, 10)
    np.testing.assert_array_equal(sampled.numpy(), greedy.numpy())


def test_seeded_sampling_is_deterministic_and_seed_dependent():
    logits, states = start([0] * 8)
    draw = lambda seed: RandomSampler(temperature=1.5, seed=seed)(step_fn, logits, states, 20)[0].numpy()  # noqa: E731
    np.testing.assert_array_equal(draw(11), draw(11))
    assert not np.array_equal(draw(11), draw(12))
    # The same inside a graph with tensor arguments.
    graph = tf.function(lambda seed: RandomSampler(temperature=1.5, seed=seed)(step_fn, logits, states, 20)[0])
    np.testing.assert_array_equal(graph(tf.constant(11)).numpy(), draw(11))


def test_top_k_filter_keeps_k_largest():
    logits = tf.constant([[1.0, 5.0, 3.0, 2.0], [4.0, 0.0, -1.0, 9.0]])
    kept = np.isfinite(top_k_filter(logits, 2).numpy())
    assert kept.tolist() == [[False, True, True, False], [True, False, False, True]]
    for k in (0, -1, 4, 10):  # off, or k ≥ V
        np.testing.assert_array_equal(top_k_filter(logits, k).numpy(), logits.numpy())


def test_top_p_filter_keeps_smallest_nucleus():
    probs = np.array([[0.5, 0.3, 0.15, 0.05]], "float32")
    logits = tf.constant(np.log(probs))
    kept = lambda p: np.isfinite(top_p_filter(logits, p).numpy())[0].tolist()  # noqa: E731
    assert kept(0.5) == [True, False, False, False]
    assert kept(0.6) == [True, True, False, False]
    assert kept(0.9) == [True, True, True, False]
    assert kept(0.0) == [True, False, False, False]  # the top token always stays
    assert kept(1.0) == [True, True, True, True]


def test_sampling_frequencies_follow_tempered_filtered_softmax():
    logits = np.log(np.array([0.4, 0.3, 0.2, 0.1], "float32"))
    batch = 4000
    sampler = RandomSampler(temperature=0.5, top_k=3, top_p=1.0, seed=5)
    tokens = sampler.get_next_token(tf.constant(np.tile(logits, (batch, 1))), tf.constant(0)).numpy()
    expected = np.exp(logits[:3] / 0.5)
    expected /= expected.sum()
    frequencies = np.bincount(tokens, minlength=4) / batch
    assert frequencies[3] == 0
    np.testing.assert_allclose(frequencies[:3], expected, atol=0.03)
    # top-k and top-p together: the nucleus inside the k best (0.4 + 0.3 ≥ 0.6).
    for top_k in (3, 0):
        sampler = RandomSampler(temperature=1.0, top_k=top_k, top_p=0.6, seed=5)
        tokens = sampler.get_next_token(tf.constant(np.tile(logits, (batch, 1))), tf.constant(0)).numpy()
        frequencies = np.bincount(tokens, minlength=4) / batch
        np.testing.assert_allclose(frequencies, [4 / 7, 3 / 7, 0, 0], atol=0.03)


def test_beam_width_one_equals_greedy():
    logits, states = start([0, 1, 2, 3])
    greedy, greedy_lengths = GreedySampler()(step_fn, logits, states, 9, end_id=END)
    beam, beam_lengths, _ = BeamSampler(1)(step_fn, logits, states, 9, end_id=END)
    assert rows(beam, beam_lengths) == rows(greedy, greedy_lengths)


def _log_prob(first_token, tokens):
    logits, total = TABLE[first_token], 0.0
    for token in tokens:
        log_probs = logits - np.log(np.exp(logits).sum())
        total += log_probs[token]
        logits = TABLE[token]
    return total


def _exhaustive_best(first_token, steps):
    best, best_score = None, -np.inf
    for flat in range(V ** steps):
        seq = [(flat // V ** i) % V for i in range(steps)]
        score = _log_prob(first_token, seq)
        if score > best_score:
            best, best_score = seq, score
    return best, best_score


def test_beam_search_scores_and_wide_beam_finds_the_exhaustive_optimum():
    logits, states = start([0, 1, 2])
    tokens, lengths, scores = BeamSampler(V * V)(step_fn, logits, states, 3)
    for row, (first, seq, score) in enumerate(zip([0, 1, 2], tokens.numpy(), scores.numpy())):
        np.testing.assert_allclose(score, _log_prob(first, seq), rtol=1e-5)
        best, best_score = _exhaustive_best(first, 3)
        np.testing.assert_allclose(score, best_score, rtol=1e-5)
    # A wider beam never scores below greedy.
    greedy, _ = GreedySampler()(step_fn, logits, states, 3)
    for first, seq, score in zip([0, 1, 2], greedy.numpy(), scores.numpy()):
        assert score >= _log_prob(first, seq) - 1e-5


def test_beam_search_finished_beams_keep_their_score():
    logits, states = start([0, 1])
    tokens, lengths, scores = BeamSampler(3)(step_fn, logits, states, 8, end_id=END)
    for first, row, n, score in zip([0, 1], tokens.numpy(), lengths.numpy(), scores.numpy()):
        np.testing.assert_allclose(score, _log_prob(first, row[:n]), rtol=1e-5)
        if n < tokens.shape[1]:
            assert row[n - 1] == END and (row[n:] == 0).all()


def test_base_sampler_requires_the_hook():
    logits, states = start([0])
    with pytest.raises(NotImplementedError):
        Sampler()(step_fn, logits, states, 3)
