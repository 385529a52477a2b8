"""Long-distance subject–verb number agreement in text form (after Linzen et al., 2016)."""

import numpy as np
import tensorflow as tf

from seqkeras.tasks.base import LongRangeTask, check_lag

NOUNS = [
    ("dog", "dogs"), ("key", "keys"), ("author", "authors"), ("cabinet", "cabinets"),
    ("teacher", "teachers"), ("car", "cars"), ("bird", "birds"), ("painting", "paintings"),
]
PREPOSITIONS = ["near", "of", "behind", "with", "beside", "under"]
ADJECTIVES = ["old", "red", "small", "quiet", "famous"]
ADVERBS = ["today", "again", "here", "there"]
VERBS = ("is", "are")
VOCABULARY = (
    ["the"] + [n for pair in NOUNS for n in pair] + PREPOSITIONS + ADJECTIVES + ADVERBS
)


class Agreement(LongRangeTask):
    """Predict the verb's number ("is"/"are") from a subject `lag` words back.

    Sentences: "the <subject> <filler …> ___" where the filler is exactly `lag`
    words of prepositional phrases ("near the old cars") and adverbs whose nouns
    (attractors) have random number, so the last noun before the verb is no cue.
    `sample_text` returns the sentences as strings; `sample`/`dataset` tokenize them
    (whitespace split, fixed vocabulary; id 0 is padding/OOV). Label 1 = plural
    subject ("are"). Score: accuracy (chance 0.5).

    Example:
        >>> sentences, verbs = Agreement().sample_text(4, 1, np.random.default_rng(0))
        >>> sentences[0], verbs[0]     # e.g. ('the cars near the old teacher', 'are')
    """

    name = "agreement"
    kind = "classes"
    classes = 2
    chance = 0.5

    def __init__(self):
        self.vocabulary = list(VOCABULARY)
        self.vocabulary_size = len(self.vocabulary) + 1
        self.index = {word: i + 1 for i, word in enumerate(self.vocabulary)}

    def sequence_length(self, lag):
        return lag + 2

    def _filler(self, lag, rng):
        words = []
        while len(words) < lag:
            remaining = lag - len(words)
            noun = NOUNS[rng.integers(len(NOUNS))][rng.integers(2)]
            choice = rng.integers(4)
            if remaining >= 4 and choice == 0:
                words += [PREPOSITIONS[rng.integers(len(PREPOSITIONS))], "the",
                          ADJECTIVES[rng.integers(len(ADJECTIVES))], noun]
            elif remaining >= 3 and choice <= 2:
                words += [PREPOSITIONS[rng.integers(len(PREPOSITIONS))], "the", noun]
            else:
                words.append(ADVERBS[rng.integers(len(ADVERBS))])
        return words

    def sample_text(self, lag, count, rng):
        """(sentences without the verb, verbs) as lists of strings."""
        check_lag(lag)
        sentences, verbs = [], []
        for _ in range(count):
            plural = int(rng.integers(2))
            subject = NOUNS[rng.integers(len(NOUNS))][plural]
            sentences.append(" ".join(["the", subject] + self._filler(lag, rng)))
            verbs.append(VERBS[plural])
        return sentences, verbs

    def tokenize(self, sentences):
        """Whitespace tokenization to ids [B, T] (0 for unknown words)."""
        return np.array(
            [[self.index.get(w, 0) for w in s.split()] for s in sentences], "int32"
        )

    def sample(self, lag, count, rng):
        sentences, verbs = self.sample_text(lag, count, rng)
        labels = np.array([VERBS.index(v) for v in verbs], "int32")
        return self.tokenize(sentences), labels

    def text_dataset(self, lag, batch_size=32, seed=0, batches=None):
        """The same stream as raw text: (sentences [B] string, verbs [B] string)."""

        def generate():
            rng = np.random.default_rng(seed)
            count = 0
            while batches is None or count < batches:
                sentences, verbs = self.sample_text(lag, batch_size, rng)
                yield np.array(sentences), np.array(verbs)
                count += 1

        spec = tf.TensorSpec((None,), tf.string)
        return tf.data.Dataset.from_generator(generate, output_signature=(spec, spec))

    def score(self, y_true, y_pred):
        predicted = np.argmax(np.asarray(y_pred), axis=-1)
        return float(np.mean(predicted == np.asarray(y_true).reshape(-1)))
