"""Tag-scheme conversions (hand-made cases) and span metrics against conlleval / seqeval."""

import random

import pytest

from seqkeras.tagging.metrics import span_scores, token_accuracy
from seqkeras.tagging.schemes import (bioes_to_iob2, chunks, convert, iob1_to_iob2, iob2_to_bioes,
                                      iob2_to_iob1)

# (IOB1 as in CoNLL-2003's files, IOB2, BIOES) — the same chunks written three ways.
CASES = [
    (["O", "O"], ["O", "O"], ["O", "O"]),
    (["I-PER"], ["B-PER"], ["S-PER"]),
    (["I-PER", "I-PER", "O"], ["B-PER", "I-PER", "O"], ["B-PER", "E-PER", "O"]),
    # adjacent chunks of the same type: IOB1 marks the second with B-
    (["I-LOC", "B-LOC", "I-LOC"], ["B-LOC", "B-LOC", "I-LOC"], ["S-LOC", "B-LOC", "E-LOC"]),
    # adjacent chunks of different types need no B- in IOB1
    (["I-ORG", "I-PER", "I-PER", "I-PER"], ["B-ORG", "B-PER", "I-PER", "I-PER"],
     ["S-ORG", "B-PER", "I-PER", "E-PER"]),
    (["O", "I-MISC", "O", "I-MISC", "I-MISC"], ["O", "B-MISC", "O", "B-MISC", "I-MISC"],
     ["O", "S-MISC", "O", "B-MISC", "E-MISC"]),
]


@pytest.mark.parametrize("iob1, iob2, bioes", CASES)
def test_conversions_hand_made(iob1, iob2, bioes):
    assert iob1_to_iob2(iob1) == iob2
    assert iob2_to_bioes(iob2) == bioes
    assert bioes_to_iob2(bioes) == iob2
    assert iob2_to_iob1(iob2) == iob1
    assert convert(iob1, "iob1", "bioes") == bioes
    assert convert(bioes, "bioes", "iob1") == iob1
    assert chunks(iob1) == chunks(iob2) == chunks(bioes)


def test_ill_formed_sequences_read_as_conlleval():
    # I- after O or after another type starts a chunk; E- without B- too.
    assert iob1_to_iob2(["O", "I-PER", "I-LOC", "E-LOC"]) == ["O", "B-PER", "B-LOC", "I-LOC"]
    assert iob2_to_bioes(["I-PER", "O", "B-LOC", "I-PER"]) == ["S-PER", "O", "S-LOC", "S-PER"]
    assert chunks(["B-PER", "E-PER", "E-PER"]) == [("PER", 0, 1), ("PER", 2, 2)]
    assert convert(["NOUN", "VERB"], "none", "none") == ["NOUN", "VERB"]
    with pytest.raises(ValueError, match="cannot convert"):
        convert(["O"], "none", "iob2")
    with pytest.raises(ValueError, match="target"):
        convert(["O"], "iob2", "bilou")


def test_chunks_match_seqeval_on_random_sequences():
    from seqeval.metrics.sequence_labeling import get_entities

    rng = random.Random(0)
    tags = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
    for _ in range(300):
        seq = [rng.choice(tags) for _ in range(rng.randint(1, 9))]
        assert sorted(chunks(seq)) == sorted(get_entities(seq)), seq
        assert chunks(iob2_to_bioes(seq)) == chunks(seq)


def test_span_scores_against_conlleval_output():
    # conlleval.pl on these two sentences ("token gold pred" lines) prints
    #   processed 11 tokens with 4 phrases; found: 4 phrases; correct: 1.
    #   accuracy:  54.55%; precision:  25.00%; recall:  25.00%; FB1:  25.00
    # Gold chunks PER 0-1, MISC 3-4 | LOC 0, ORG 2-3. Predicted: "I-PER I-PER" starts a
    # chunk (conlleval needs no B-) and is correct; MISC 4 has a wrong left boundary;
    # LOC predicted as ORG; ORG 2-4 runs one token too far.
    gold = [["B-PER", "I-PER", "O", "B-MISC", "I-MISC", "O"], ["B-LOC", "O", "B-ORG", "I-ORG", "O"]]
    pred = [["I-PER", "I-PER", "O", "O", "B-MISC", "O"], ["B-ORG", "O", "B-ORG", "I-ORG", "I-ORG"]]
    scores = span_scores(gold, pred, "iob2")
    assert scores["precision"] == pytest.approx(1 / 4)
    assert scores["recall"] == pytest.approx(1 / 4)
    assert scores["f1"] == pytest.approx(1 / 4)
    assert scores["accuracy"] == pytest.approx(6 / 11)
    # strict IOB2 drops the ill-formed "I-PER I-PER" chunk: none correct
    assert scores["f1_strict"] == pytest.approx(0.0)


def test_span_scores_same_in_every_scheme():
    gold = [["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]]
    pred = [["I-PER", "I-PER", "O", "I-LOC", "I-LOC"]]
    by_scheme = {"iob1": span_scores(gold, pred, "iob1")["f1"]}
    for scheme in ("iob2", "bioes"):
        g = [convert(s, "iob1", scheme) for s in gold]
        p = [convert(s, "iob1", scheme) for s in pred]
        by_scheme[scheme] = span_scores(g, p, scheme)["f1"]
    assert by_scheme["iob1"] == by_scheme["iob2"] == by_scheme["bioes"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))


def test_token_accuracy_and_length_checks():
    assert token_accuracy([["A", "B"], ["C"]], [["A", "X"], ["C"]]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="sentence 0"):
        token_accuracy([["A"]], [["A", "B"]])


def test_convert_tensor_equals_convert_on_random_sequences():
    import tensorflow as tf

    from seqkeras.tagging.schemes import convert_tensor

    rng = random.Random(1)
    tags = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "B-", "X-PER", "NOUN"]
    sequences = [[rng.choice(tags) for _ in range(rng.randint(1, 8))] for _ in range(80)] + [[]]
    for source in ("iob1", "iob2", "bioes"):
        for target in ("iob1", "iob2", "bioes"):
            fn = tf.function(lambda t, s=source, g=target: convert_tensor(t, s, g),
                             input_signature=[tf.TensorSpec([None], tf.string)])
            for seq in sequences:
                got = [t.decode() for t in fn(tf.constant(seq, tf.string)).numpy()]
                assert got == convert(seq, source, target), (source, target, seq)
    assert convert_tensor(tf.constant(["NOUN"]), "none", "none").numpy().tolist() == [b"NOUN"]
    with pytest.raises(ValueError, match="cannot convert"):
        convert_tensor(tf.constant(["O"]), "none", "iob2")
