"""Sampling text from a trained language model in Python (one step at a time, batch 1).

The serving path is the exported SavedModel's ``generate`` signature
(`seqkeras.language_model.server`); this is the quick look used at the end of
``seqkeras run`` and by ``seqkeras generate`` on a pipeline spec.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def sample_text(model, tokenizer, prompt: str = "", length: int = 200, temperature: float = 0.8,
                top_k: int = 0, seed: int = 0) -> str:
    """Continue `prompt` by `length` sampled tokens; returns prompt + continuation.

    Args:
        model: a `LanguageModel` (weights loaded); run through its stateless `step`.
        tokenizer: its tokenizer (with the vocabulary).
        prompt: the text to continue ("" starts from ``<eos>``, i.e. a new line).
        length: tokens to sample.
        temperature: softmax temperature (> 0).
        top_k: sample among the k most probable tokens (0 = all).
        seed: NumPy seed.
    """
    vocabulary = tokenizer.vocabulary
    character = tokenizer.separator == ""
    pieces = [p.decode("utf-8") for p in tokenizer.tokenize(tf.constant([prompt])).to_list()[0]] if prompt else []
    start = vocabulary.eos_id if vocabulary.eos_id is not None else vocabulary.id("\n")
    ids = [start] + vocabulary.ids(pieces)
    step = tf.function(model.step, reduce_retracing=True)
    states = model.initial_states(1)
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
