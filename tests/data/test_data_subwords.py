"""WordPiece subwords: trainer, greedy longest match vs a Python reference, export."""

import random

import tensorflow as tf

from seqkeras.data import SubwordTokenizer, Vocabulary, learn_wordpieces


def python_wordpiece(word, pieces, max_chars=100):
    """BERT's greedy longest-match-first WordPiece, in plain Python."""
    if len(word) > max_chars:
        return ["<unk>"]
    out, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = ("##" if start else "") + word[start:end]
            if piece in pieces:
                out.append(piece)
                start = end
                break
        else:
            return ["<unk>"]
    return out


def test_greedy_longest_match_agrees_with_python_reference():
    pieces = ["a", "b", "c", "é", "ab", "abc", "##a", "##b", "##c", "##bc", "##ca", "ca", "##é"]
    vocab = Vocabulary(["<pad>", "<unk>"] + pieces)
    tokenizer = SubwordTokenizer(vocab, max_word_chars=6)
    rng = random.Random(0)
    sentences = [" ".join("".join(rng.choice("abcéd") for _ in range(rng.randint(1, 8)))
                          for _ in range(rng.randint(0, 5))) for _ in range(200)]
    got = [[p.decode() for p in row] for row in tokenizer.tokenize(tf.constant(sentences)).to_list()]
    expected = [[p for w in s.split() for p in python_wordpiece(w, set(pieces), 6)] for s in sentences]
    assert got == expected


def test_trainer_keeps_alphabet_respects_size_and_is_deterministic():
    counts = {"low": 5, "lower": 2, "newest": 6, "widest": 3}
    vocab = learn_wordpieces(counts, vocab_size=20)
    assert len(vocab) <= 20
    alphabet = {w[0] for w in counts} | {"##" + c for w in counts for c in w[1:]}
    assert alphabet <= set(vocab.tokens)
    assert learn_wordpieces(counts, vocab_size=20) == vocab
    assert "##es" in vocab and "##est" in vocab  # the most frequent merges come first


def test_subword_round_trip_and_saved_model(tmp_path):
    texts = tf.data.Dataset.from_tensor_slices(["the lowest newer widest", "low lower newest"])
    tokenizer = SubwordTokenizer.train(texts, vocab_size=30, lowercase=True)
    ids = tokenizer(["The lowest widest"])
    assert tokenizer.detokenize(ids).numpy().tolist() == [b"the lowest widest"]
    module = tf.Module()
    module.tokenizer = tokenizer
    module.serve = tf.function(lambda x: tokenizer(x).to_tensor(), input_signature=[tf.TensorSpec([None], tf.string)])
    expected = module.serve(tf.constant(["newer widest zzz"])).numpy().tolist()
    tf.saved_model.save(module, str(tmp_path / "sub"))
    loaded = tf.saved_model.load(str(tmp_path / "sub"))
    assert loaded.serve(tf.constant(["newer widest zzz"])).numpy().tolist() == expected
