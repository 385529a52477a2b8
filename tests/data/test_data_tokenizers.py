"""Word and character tokenizers: behaviour, round trips, SavedModel export."""

import pytest
import tensorflow as tf

from seqkeras.data import CharacterTokenizer, Vocabulary, WordTokenizer

TEXTS = ["The cat sat .", "the dog , the CAT"]

# Raw text and its Penn Treebank tokens, as PTB/SST are tokenized (written by hand).
TREEBANK_CASES = [
    ("I didn't like it.", "I did n't like it ."),
    ("It's the film's best scene, isn't it?", "It 's the film 's best scene , is n't it ?"),
    ('She said "wow"... then left.<br /><br />Great!', "She said `` wow '' ... then left . Great !"),
    ("They're gone -- we'll see (maybe); I'd say I'm done: you've won",
     "They 're gone -- we 'll see ( maybe ) ; I 'd say I 'm done : you 've won"),
    ("a well-made, self-conscious B-movie", "a well-made , self-conscious B-movie"),
    ("CAN'T WON'T", "CA N'T WO N'T"),
    ("no\u00a0break\x85next\u2009thin\u3000wide", "no break next thin wide"),   # as str.split sees them
]
# Already tokenized as SST is: unchanged.
PRETOKENIZED = ["it 's a charming and often affecting journey . ", "( a ) poorly executed comedy .",
                "the movie is n't `` funny '' -- it 's sad ...", "unflinchingly bleak and desperate"]


def test_word_tokenizer_matches_python_split_and_lookup():
    tokenizer = WordTokenizer(lowercase=True)
    vocab = tokenizer.adapt(tf.data.Dataset.from_tensor_slices(TEXTS), reserved=("<pad>", "<unk>"))
    expected = [[vocab.id(w) for w in text.lower().split()] for text in TEXTS]
    assert tokenizer(tf.constant(TEXTS)).to_list() == expected
    assert vocab.tokens[2] == "the" and vocab.counts["the"] == 3


def test_pretokenized_keeps_case_and_punctuation_and_strip_option():
    assert WordTokenizer().tokenize(["A , b"]).to_list() == [[b"A", b",", b"b"]]
    stripping = WordTokenizer(lowercase=True, strip_punctuation=True)
    assert stripping.tokenize(["Hi, there!"]).to_list() == [[b"hi", b"there"]]


def test_bos_eos_and_detokenize_round_trip():
    vocab = Vocabulary(["<pad>", "<unk>", "<bos>", "<eos>", "a", "b"], reserved=("<pad>", "<unk>", "<bos>", "<eos>"))
    tokenizer = WordTokenizer(vocab, add_bos=True, add_eos=True)
    ids = tokenizer(["a b", "b zz"])
    assert ids.to_list() == [[2, 4, 5, 3], [2, 5, 1, 3]]
    assert tokenizer.detokenize(ids).numpy().tolist() == [b"a b", b"b <unk>"]
    assert tokenizer.detokenize(ids.to_tensor()).numpy().tolist() == [b"a b", b"b <unk>"]
    assert tokenizer("a").numpy().tolist() == [2, 4, 3]
    with pytest.raises(ValueError, match="add_bos=True needs '<bos>'"):
        WordTokenizer(Vocabulary(["<pad>", "<unk>"]), add_bos=True)


def test_character_tokenizer_unicode_round_trip():
    tokenizer = CharacterTokenizer()
    vocab = tokenizer.adapt(tf.data.Dataset.from_tensor_slices(["héllo", "wörld"]))
    ids = tokenizer(["hö!"])
    assert ids.to_list() == [[vocab.id("h"), vocab.id("ö"), 1]]
    assert tokenizer.detokenize(tokenizer(["héllo"])).numpy().tolist() == ["héllo".encode()]


@pytest.mark.parametrize("treebank", [False, True])
def test_tokenizer_serves_from_a_saved_model(tmp_path, treebank):
    tokenizer = WordTokenizer(lowercase=True, treebank=treebank)
    tokenizer.adapt(tf.data.Dataset.from_tensor_slices(TEXTS + [raw for raw, _ in TREEBANK_CASES]))
    module = tf.Module()
    module.tokenizer = tokenizer
    module.serve = tf.function(lambda x: tokenizer(x).to_tensor(), input_signature=[tf.TensorSpec([None], tf.string)])
    texts = tf.constant(TEXTS + ["It's not \"great\".<br />Isn't it?"])
    expected = module.serve(texts).numpy().tolist()
    tf.saved_model.save(module, str(tmp_path / "tok"))
    loaded = tf.saved_model.load(str(tmp_path / "tok"))
    assert loaded.serve(texts).numpy().tolist() == expected


def test_fast_paths_match_plain_tensorflow_ops():
    """ASCII lower-casing and single-space splitting are shortcuts only: same tokens."""

    texts = tf.constant(["The CAT\tsat\r\non  the MAT", "", "   ", "Élan ÀB x\x0bY", b"A\xffB c\xc3", "x\x01Y z",
                         "Hi, there! (don't)", "İstanbul KELVIN \u212a", "ΟΔΟΣ ΣΑΣ Α-Σ ΑΣ. The ÉLAN of NAÏVE Straße",
                         "ASCII ONLY Line", "Ünïcode at the END É"])
    for batch in (texts, texts[:3], texts[6:7], texts[9:10], texts[:0]):
        for lowercase in (False, True):
            for strip in (False, True):
                standard = tf.strings.lower(batch, encoding="utf-8") if lowercase else batch
                if strip:
                    standard = tf.strings.regex_replace(standard, keras_punctuation(), "")
                got = WordTokenizer(lowercase=lowercase, strip_punctuation=strip).tokenize(batch)
                assert got.to_list() == tf.strings.split(standard).to_list()
    assert CharacterTokenizer(lowercase=True).tokenize(texts).to_list() == \
        tf.strings.unicode_split(tf.strings.lower(texts, encoding="utf-8"), "UTF-8", errors="replace").to_list()


def keras_punctuation():
    return r'[!"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~\']'


@pytest.mark.parametrize("raw, tokens", TREEBANK_CASES)
def test_treebank_splits_raw_text_like_the_penn_treebank(raw, tokens):
    assert WordTokenizer(treebank=True).tokenize([raw]).to_list() == [[t.encode() for t in tokens.split()]]


def test_treebank_leaves_pretokenized_text_alone_and_matches_the_slow_path():
    tokenizer = WordTokenizer(lowercase=True, treebank=True)
    assert tokenizer.tokenize(PRETOKENIZED).to_list() == [[t.encode() for t in s.split()] for s in PRETOKENIZED]
    batch = tf.constant([raw for raw, _ in TREEBANK_CASES] + ["Tab\there, \"x\"\n", "", "Ünï's"])
    assert tokenizer.tokenize(batch).to_list() == tf.strings.split(tokenizer.standardize(batch)).to_list()
    with pytest.raises(ValueError, match="choose one"):
        WordTokenizer(treebank=True, strip_punctuation=True)
