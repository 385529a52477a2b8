"""Tiny corpora and specs, one per registered application, for the contract test.

Each fixture writes its corpus into a data directory and returns the TOML text of a
spec small enough to tune (2 trials), train, evaluate and export in seconds. A new
application must add its fixture here: the contract test fails for a registered
application without one.
"""

from __future__ import annotations

import pathlib
import random

import numpy as np

TUNING = """
[tuning]
enabled = true
tuner = "random"
max_trials = 2
epochs = 1
objective = "{objective}"
direction = "{direction}"
[tuning.space]
{space}
"""


def _tuning(space: str, objective: str = "val_loss", direction: str = "min") -> str:
    return TUNING.format(space=space.strip(), objective=objective, direction=direction)


def language_model(data: pathlib.Path) -> str:
    text = "to be or not to be that is the question\nwhether tis nobler in the mind to suffer\n" * 30
    (data / "corpus.txt").write_text(text, encoding="utf-8")
    return """
application = "language_model"
name = "contract_language_model"
[data]
train = "corpus.txt"
validation_fraction = 0.2
level = "char"
tokenizer = "character"
newline = "char"
[model]
cell = "gru"
layers = 1
units = 8
jit_compile = "false"
[training]
learning_rate = 0.01
epochs = 1
batch_size = 4
bptt_length = 10
steps_per_epoch = 4
validation_steps = 2
""" + _tuning('"model.cell" = ["gru", "lstm:cifg"]')


def classification(data: pathlib.Path) -> str:
    rng = random.Random(0)
    positive, negative = ["good", "great", "lovely"], ["bad", "awful", "dull"]
    for name, count in (("train.tsv", 128), ("valid.tsv", 32)):
        rows = ["sentence\tlabel"]
        for _ in range(count):
            label = rng.randint(0, 1)
            words = [rng.choice(positive if label else negative)] + [rng.choice(["a", "film", "plot"])
                                                                      for _ in range(rng.randint(1, 4))]
            rng.shuffle(words)
            rows.append(f"{' '.join(words)}\t{label}")
        (data / name).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return """
application = "classification"
name = "contract_classification"
[data]
train = "train.tsv"
validation = "valid.tsv"
labels = ["0", "1"]
class_names = ["negative", "positive"]
[model]
cell = "gru"
units = 4
embedding_dim = 4
[training]
learning_rate = 0.02
epochs = 1
batch_size = 32
""" + _tuning('"model.units" = [4, 6]', "val_accuracy", "max")


def tagging(data: pathlib.Path) -> str:
    rng = random.Random(0)
    tags = {"the": "DET", "a": "DET", "dog": "NOUN", "cat": "NOUN", "runs": "VERB", "sleeps": "VERB"}
    for name, count in (("train.conllu", 60), ("dev.conllu", 12)):
        lines = []
        for s in range(count):
            words = [rng.choice(["the", "a"]), rng.choice(["dog", "cat"]), rng.choice(["runs", "sleeps"])]
            lines.append(f"# sent_id = {s}")
            lines += [f"{i}\t{w}\t{w}\t{tags[w]}\t_\t_\t0\t_\t_\t_" for i, w in enumerate(words, 1)]
            lines.append("")
        (data / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return """
application = "tagging"
name = "contract_tagging"
[data]
train = "train.conllu"
validation = "dev.conllu"
format = "conllu"
[model]
layers = 1
units = 4
embedding_dim = 4
char_embedding_dim = 4
char_units = 2
dropout = 0.0
[training]
epochs = 1
batch_size = 16
learning_rate = 0.01
""" + _tuning('"model.output" = ["crf", "softmax"]', "val_score", "max")


def translation(data: pathlib.Path) -> str:
    rng = np.random.default_rng(0)
    words = "ab cd ef gh ij kl".split()
    for name, count in (("train", 96), ("val", 16)):
        sources = [" ".join(rng.choice(words, rng.integers(2, 4))) for _ in range(count)]
        (data / f"{name}.src").write_text("\n".join(sources) + "\n", encoding="utf-8")
        (data / f"{name}.tgt").write_text("\n".join(s.upper() for s in sources) + "\n", encoding="utf-8")
    return """
application = "translation"
name = "contract_translation"
evaluate_limit = 8
samples = 1
[data]
train_source = "train.src"
train_target = "train.tgt"
validation_source = "val.src"
validation_target = "val.tgt"
source_vocab_size = 24
target_vocab_size = 24
[model]
cell = "gru"
embedding_dim = 8
encoder_units = 8
units = 16
dropout = 0.0
[decoding]
beam_width = 2
max_length_b = 4
[training]
learning_rate = 0.01
batch_size = 32
epochs = 1
""" + _tuning('"model.attention" = ["luong", "bahdanau"]')


def word2vec(data: pathlib.Path) -> str:
    rng = random.Random(0)
    vocabulary = ["king", "queen", "man", "woman", "paris", "france", "berlin", "germany", "the", "a", "of"]
    lines = [" ".join(rng.choice(vocabulary) for _ in range(12)) for _ in range(300)]
    (data / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (data / "analogies.txt").write_text(": capital\nparis france berlin germany\n: family\nking queen man woman\n",
                                        encoding="utf-8")
    (data / "pairs.tsv").write_text("# word1\tword2\tscore\n# header\nking\tqueen\t8.0\nparis\tfrance\t7.0\n"
                                    "man\tof\t1.0\n", encoding="utf-8")
    return """
application = "word2vec"
name = "contract_word2vec"
[data]
sources = ["corpus.txt"]
min_count = 1
batch_words = 64
[model]
dim = 8
window = 2
negatives = 2
[training]
epochs = 1
[evaluation]
analogies = "analogies.txt"
word_pairs = "pairs.tsv"
""" + _tuning('"model.window" = [2, 3]', "loss", "min")


def long_range(data: pathlib.Path) -> str:
    return """
application = "long_range"
name = "contract_long_range"
[data]
task = "adding"
lag = 6
validation_examples = 32
[model]
cell = "gru"
units = 4
[training]
epochs = 1
steps_per_epoch = 4
batch_size = 16
""" + _tuning('"training.learning_rate" = [0.01, 0.02]')


def forecasting(data: pathlib.Path) -> str:
    rng = np.random.default_rng(0)
    lines = ["No,year,month,day,hour,level,temp,wind"]
    for i in range(40 * 24):
        day, hour = divmod(i, 24)
        level = 50 + 20 * np.sin(2 * np.pi * hour / 24) + rng.normal(0, 3)
        text = "NA" if i % 97 == 5 else f"{level:.1f}"
        lines.append(f"{i + 1},2020,{1 + day // 31},{1 + day % 31},{hour},{text},{rng.normal(5, 2):.2f},"
                     f"{rng.choice(['NE', 'NW', 'cv'])}")
    (data / "series.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return """
application = "forecasting"
name = "contract_forecasting"
[data]
path = "series.csv"
time_columns = ["year", "month", "day", "hour"]
frequency = "hour"
target = "level"
covariates = ["temp"]
categorical = ["wind"]
calendar = ["hour", "day_of_week"]
validation_start = "2020-02-02"
test_start = "2020-02-06"
history = 24
horizon = 6
[model]
cell = "gru"
units = 8
[evaluation]
stride = 5
[training]
epochs = 1
batch_size = 32
steps_per_epoch = 4
""" + _tuning('"model.head" = ["direct", "decoder"]\n"data.history" = [12, 24]')


def recommendation(data: pathlib.Path) -> str:
    rng = random.Random(0)
    lines = []
    for user in range(1, 41):
        item, time = rng.randint(1, 30), 1000 * user
        for _ in range(rng.randint(3, 12)):
            lines.append(f"{user}\t{item * 7}\t{rng.randint(1, 5)}\t{time}")
            item, time = item % 30 + 1, time + rng.choice([0, 60])     # ties in time keep file order
    rng.shuffle(lines)
    (data / "u.data").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return """
application = "recommendation"
name = "contract_recommendation"
[data]
path = "u.data"
max_history = 8
[model]
cell = "gru"
units = 8
embedding_dim = 8
[training]
epochs = 1
batch_size = 16
""" + _tuning('"model.loss" = ["softmax", "bpr_max"]\n"data.max_history" = [4, 8]', "val_cross_entropy")


def sequences(data: pathlib.Path) -> str:
    rng = np.random.default_rng(0)
    lines = ["# a tiny multivariate .ts file", "@problemName Tiny", "@dimensions 3", "@equalLength false",
             "@classLabel true a b c", "@data"]
    for case in range(30):
        label = "abc"[case % 3]
        frames = rng.normal("abc".index(label), 0.5, size=(rng.integers(4, 9), 3))
        lines.append(":".join(",".join(f"{v:.3f}" for v in frames[:, d]) for d in range(3)) + f":{label}")
    (data / "tiny.ts").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return """
application = "sequences"
name = "contract_sequences"
[data]
train = "tiny.ts"
folds = 3
[model]
units = 4
projection = 4
[training]
epochs = 1
batch_size = 8
""" + _tuning('"model.pooling" = ["final", "mean"]\n"data.fold" = [0, 1]')


def captioning(data: pathlib.Path) -> str:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    (data / "images").mkdir()
    colours = {"red": (220, 30, 30), "blue": (30, 30, 220)}
    captions, splits = ["image_id\tcaption"], ["image_id\tsplit"]
    for i in range(12):
        name = "red" if i % 2 else "blue"
        pixels = np.clip(np.array(colours[name]) + rng.normal(0, 20, (32, 32, 3)), 0, 255).astype(np.uint8)
        (data / "images" / f"im{i}.jpg").write_bytes(tf.io.encode_jpeg(pixels).numpy())
        captions += [f"im{i}\ta {name} square .", f"im{i}\ta {name} picture"]
        splits.append(f"im{i}\t{'dev' if i >= 8 else 'train'}")
    (data / "captions.tsv").write_text("\n".join(captions) + "\n", encoding="utf-8")
    (data / "splits.tsv").write_text("\n".join(splits) + "\n", encoding="utf-8")
    return """
application = "captioning"
name = "contract_captioning"
[data]
images = "images"
captions = "captions.tsv"
splits = "splits.tsv"
image_size = 32
captions_per_image = 2
min_count = 1
[model]
encoder_width = 4
encoder_blocks = 2
units = 8
embedding_dim = 8
dropout = 0.0
[decoding]
beam_width = 2
max_length = 6
[evaluation]
examples = 2
[training]
learning_rate = 0.01
batch_size = 4
epochs = 1
""" + _tuning('"model.attention" = ["luong", "none"]')


FIXTURES = {
    "language_model": language_model,
    "classification": classification,
    "tagging": tagging,
    "translation": translation,
    "word2vec": word2vec,
    "long_range": long_range,
    "forecasting": forecasting,
    "recommendation": recommendation,
    "sequences": sequences,
    "captioning": captioning,
}
