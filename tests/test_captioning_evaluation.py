"""Caption evaluation: BLEU-1..4 settings, the fast constant-caption search == sacrebleu,
both baselines against hand computations, the examples page."""

import numpy as np
import sacrebleu

from seqkeras.captioning import evaluation

REFS = [["a dog runs on the grass .", "A brown dog is running .", "dog on grass"],
        ["a man rides a bike .", "A man on a bicycle", "a person cycling down the road ."],
        ["two dogs play in the snow .", "Dogs playing in snow", "two brown dogs in the snow ."]]


def _sacrebleu(hypotheses, references, order=4):
    streams = [[refs[j] for refs in references] for j in range(len(references[0]))]
    return sacrebleu.metrics.BLEU(lowercase=True, tokenize="13a", max_ngram_order=order).corpus_score(
        hypotheses, streams).score


def test_bleu_scores_are_sacrebleu_with_every_reference():
    hypotheses = ["a dog runs on grass .", "a man rides a bicycle .", "two dogs in the snow ."]
    scores = evaluation.bleu_scores(hypotheses, REFS)
    for n in (1, 2, 3, 4):
        np.testing.assert_allclose(scores[f"bleu{n}"], _sacrebleu(hypotheses, REFS, n))
    assert scores["bleu1"] >= scores["bleu2"] >= scores["bleu3"] >= scores["bleu4"] > 0
    # an image with fewer references repeats its first: the same score as duplicating it by hand
    short = [REFS[0][:1], REFS[1], REFS[2]]
    padded = [REFS[0][:1] * 3, REFS[1], REFS[2]]
    assert evaluation.bleu_scores(hypotheses, short) == evaluation.bleu_scores(hypotheses, padded)


def test_without_punctuation():
    assert evaluation.without_punctuation("A dog's ball, red .") == "a dog's ball red"


def test_constant_caption_statistics_equal_sacrebleu():
    search = evaluation.ConstantCaptionSearch(REFS)
    rng = np.random.default_rng(0)
    words = "a dog dogs man the snow grass on in two runs . brown".split()
    candidates = [c for refs in REFS for c in refs] + [" ".join(rng.choice(words, rng.integers(1, 9)))
                                                       for _ in range(30)]
    for caption in candidates:
        for order in (1, 4):
            np.testing.assert_allclose(search.bleu(caption, order), _sacrebleu([caption] * 3, REFS, order),
                                       atol=1e-9, err_msg=caption)


def test_constant_caption_is_the_best_training_caption():
    """By hand: 'a dog in the snow .' shares most n-grams with the refs of all three images."""
    refs = [["a dog in the snow .", "a dog runs"], ["a dog in the grass .", "the dog"],
            ["a cat in the snow .", "cat"]]
    caption, score = evaluation.constant_caption(refs)
    by_hand = {c: _sacrebleu([c] * 3, refs) for r in refs for c in r}
    assert caption == max(by_hand, key=by_hand.get) == "a dog in the snow ."
    np.testing.assert_allclose(score, by_hand[caption])
    assert evaluation.constant_caption(refs, candidates=1, seed=0)[0] in by_hand


def test_nearest_neighbour_retrieval_by_hand():
    train = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    query = np.array([[5.0, 0.1], [0.05, 0.3], [3.0, 2.9]])    # row 1: Euclidean would pick 0
    np.testing.assert_array_equal(evaluation.nearest_neighbours(query, train), [0, 1, 2])   # cosine, not distance
    # consensus: the caption agreeing most with its image's others
    assert evaluation.consensus_caption(["a dog runs", "a dog runs fast", "cat", "a dog runs ."]) == "a dog runs"
    captions = evaluation.retrieval_captions(query, train, [["x y"], ["p q"], ["m n"]])
    assert captions == ["x y", "p q", "m n"]


def test_examples_page_embeds_images_and_captions(tmp_path):
    import tensorflow as tf

    image = tmp_path / "a.jpg"
    image.write_bytes(tf.io.encode_jpeg(np.zeros((8, 8, 3), np.uint8)).numpy())
    page = evaluation.examples_page(tmp_path / "out/examples.html", [str(image)], [["ref <one>"]],
                                    {"model": ["a black square"]}, title="t")
    text = page.read_text()
    assert "data:image/jpeg;base64," in text and "a black square" in text and "ref &lt;one&gt;" in text
    assert "BLEU-4" in evaluation.comparison_table({"m": {f"bleu{n}": 1.0 for n in (1, 2, 3, 4)}})
