"""Sampling text from a trained language model in Python (one step at a time, batch 1).

The serving path is the exported SavedModel's ``generate`` signature
(`seqkeras.language_model.server`); this is the quick look used at the end of
``seqkeras run`` and by ``seqkeras generate`` on a run directory.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seqkeras.data.vocabulary import EOS


def _cells(model):
    stack = model.get_layer("recurrent")
    return [level.cell for level in stack.levels]


def sample_text(model, tokenizer, prompt: str = "", length: int = 200, temperature: float = 0.8,
                top_k: int = 0, seed: int = 0) -> str:
    """Continue `prompt` by `length` sampled tokens; returns prompt + continuation.

    Args:
        model: a model from `build_language_model` (weights loaded).
        tokenizer: its tokenizer (with the vocabulary).
        prompt: the text to continue ("" starts from ``<eos>``, i.e. a new line).
        length: tokens to sample.
        temperature: softmax temperature (> 0).
        top_k: sample among the k most probable tokens (0 = all).
        seed: NumPy seed.
    """
    vocabulary = tokenizer.vocabulary
    embedding, logits_layer = model.get_layer("embedding"), model.get_layer("logits")
    cells = _cells(model)
    character = tokenizer.separator == ""
    pieces = [p.decode("utf-8") for p in tokenizer.tokenize(tf.constant([prompt])).to_list()[0]] if prompt else []
    ids = vocabulary.ids(pieces)
    start = vocabulary.eos_id if vocabulary.eos_id is not None else vocabulary.id("\n")
    ids = [start] + ids

    @tf.function(reduce_retracing=True)
    def step(token, states):
        x = embedding(token)
        new_states = []
        for cell, state in zip(cells, states):
            x, s = cell(x, state)
            new_states.append(s)
        return logits_layer(x), new_states

    states = [cell.get_initial_state(1) for cell in cells]
    states = [[tf.convert_to_tensor(s) for s in (st if isinstance(st, (list, tuple)) else [st])] for st in states]
    logits = None
    for token in ids:
        logits, states = step(tf.constant([token], tf.int32), states)
    rng = np.random.default_rng(seed)
    generated = []
    banned = [vocabulary.pad_id, vocabulary.unk_id] if character else [vocabulary.pad_id]
    for _ in range(length):
        scores = np.array(logits[0], np.float64) / max(temperature, 1e-6)
        scores[banned] = -np.inf
        if top_k:
            cut = np.sort(scores)[-top_k]
            scores[scores < cut] = -np.inf
        probs = np.exp(scores - scores.max())
        token = int(rng.choice(len(probs), p=probs / probs.sum()))
        generated.append(token)
        logits, states = step(tf.constant([token], tf.int32), states)
    words = ["\n" if t == vocabulary.eos_id else vocabulary.tokens[t] for t in generated]
    if character:
        return prompt + "".join(words)
    text = " ".join(words).replace(" \n ", "\n").replace("\n ", "\n")
    return (prompt + " " + text) if prompt else text
