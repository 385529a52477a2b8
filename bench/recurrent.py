"""Training throughput of seqkeras recurrent layers vs Keras built-ins and PyTorch.

Workload: the Penn Treebank "small" configuration (Zaremba et al.): 2 layers × 200
units, 200-dim inputs, 35 steps, batch 20 and 64. Two measurements:

1. the recurrence alone: inputs [B, 35, 200] -> 2 recurrent layers -> mean squared
   output, one forward + backward + SGD update per step;
2. the whole small LM: Embedding(10000, 200) -> 2 layers -> Dense(10000), full softmax
   cross-entropy.

Every variant runs the same harness (a `tf.function` train step; PyTorch its usual
loop), steps are timed after warm-up, variants are interleaved round by round, and
the table reports the median step as tokens/s, the ratio to `keras.layers.LSTM` and
the fraction of this machine's measured fp32 matmul throughput achieved (model
FLOPs: 6 × multiply-adds of the matmuls per token; elementwise work not counted).

    python bench/recurrent.py                 # both batch sizes, recurrence + LM
    python bench/recurrent.py --batch 20 --rounds 7 --only recurrence
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seqkeras.cells import ElmanCell, GRUCell, LSTMCell, RANCell  # noqa: E402
from seqkeras.layers import Recurrent  # noqa: E402

STEPS, INPUT_DIM, UNITS, LAYERS, VOCAB = 35, 200, 200, 2, 10000

# name -> (factory of one recurrent layer, gates G: U·h and W·x have G·units columns)
SEQKERAS = {
    "seqkeras LSTM": (lambda **kw: Recurrent(LSTMCell(UNITS), return_sequences=True, **kw), 4),
    "seqkeras CIFG-LSTM": (
        lambda **kw: Recurrent(LSTMCell(UNITS, variant="cifg"), return_sequences=True, **kw),
        3,
    ),
    "seqkeras GRU": (lambda **kw: Recurrent(GRUCell(UNITS), return_sequences=True, **kw), 3),
    "seqkeras Elman": (lambda **kw: Recurrent(ElmanCell(UNITS), return_sequences=True, **kw), 1),
    "seqkeras RAN": (lambda **kw: Recurrent(RANCell(UNITS), return_sequences=True, **kw), 2.5),
}
KERAS = {
    "keras LSTM": (lambda: keras.layers.LSTM(UNITS, return_sequences=True), 4),
    "keras RNN(LSTMCell)": (
        lambda: keras.layers.RNN(keras.layers.LSTMCell(UNITS), return_sequences=True),
        4,
    ),
    "keras GRU": (lambda: keras.layers.GRU(UNITS, return_sequences=True), 3),
    "keras SimpleRNN": (lambda: keras.layers.SimpleRNN(UNITS, return_sequences=True), 1),
}


def matmul_gflops(size=1024, repeats=30):
    """Measured fp32 matmul throughput of this machine (GFLOP/s)."""
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    run = tf.function(lambda a, b: tf.matmul(a, b))
    run(a, b).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(a, b).numpy()
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def train_flops_per_token(gates, lm):
    """6 × multiply-adds of the matmuls per token (forward 2×, backward 4×)."""
    per_layer = gates * UNITS * (INPUT_DIM + UNITS)
    macs = LAYERS * per_layer + (UNITS * VOCAB if lm else 0)
    return 6 * macs


class KerasCase:
    """A Keras model trained by a compiled step: fwd + bwd + SGD."""

    def __init__(self, make_layer, batch, lm, policy=None):
        previous = keras.config.dtype_policy()
        if policy:
            keras.config.set_dtype_policy(policy)
        try:
            if lm:
                inputs = keras.Input((STEPS,), batch_size=batch, dtype="int32")
                x = keras.layers.Embedding(VOCAB, INPUT_DIM)(inputs)
            else:
                inputs = keras.Input((STEPS, INPUT_DIM), batch_size=batch)
                x = inputs
            for _ in range(LAYERS):
                x = make_layer()(x)
            if lm:
                x = keras.layers.Dense(VOCAB, dtype="float32" if not policy else policy)(x)
            self.model = keras.Model(inputs, x)
        finally:
            keras.config.set_dtype_policy(previous)
        self.optimizer = keras.optimizers.SGD(0.01)
        self.optimizer.build(self.model.trainable_variables)
        rng = np.random.default_rng(0)
        if lm:
            self.x = tf.constant(rng.integers(0, VOCAB, (batch, STEPS)), tf.int32)
            self.y = tf.constant(rng.integers(0, VOCAB, (batch, STEPS)), tf.int32)
        else:
            self.x = tf.constant(rng.normal(size=(batch, STEPS, INPUT_DIM)), tf.float32)
            self.y = None
        self.lm = lm
        self.step = tf.function(self._step)

    def _step(self, x, y):
        with tf.GradientTape() as tape:
            out = tf.cast(self.model(x, training=True), tf.float32)
            if self.lm:
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=out)
                )
            else:
                loss = tf.reduce_mean(tf.square(out))
        variables = self.model.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply(grads, variables)
        return loss

    def run(self):
        self.step(self.x, self.y if self.y is not None else 0).numpy()


class TorchCase:
    """`torch.nn.LSTM` (oneDNN kernel on CPU) with the same workload."""

    def __init__(self, batch, lm):
        import torch

        torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
        self.torch = torch
        self.lm = lm
        self.rnn = torch.nn.LSTM(INPUT_DIM, UNITS, num_layers=LAYERS, batch_first=True)
        params = list(self.rnn.parameters())
        if lm:
            self.embedding = torch.nn.Embedding(VOCAB, INPUT_DIM)
            self.dense = torch.nn.Linear(UNITS, VOCAB)
            params += list(self.embedding.parameters()) + list(self.dense.parameters())
            self.x = torch.randint(0, VOCAB, (batch, STEPS))
            self.y = torch.randint(0, VOCAB, (batch * STEPS,))
        else:
            self.x = torch.randn(batch, STEPS, INPUT_DIM)
        self.optimizer = torch.optim.SGD(params, lr=0.01)

    def run(self):
        torch = self.torch
        self.optimizer.zero_grad()
        x = self.embedding(self.x) if self.lm else self.x
        out, _ = self.rnn(x)
        if self.lm:
            logits = self.dense(out).reshape(-1, VOCAB)
            loss = torch.nn.functional.cross_entropy(logits, self.y)
        else:
            loss = out.square().mean()
        loss.backward()
        self.optimizer.step()


def build_cases(batch, lm, with_bf16):
    cases = {}
    for name, (make, gates) in KERAS.items():
        cases[name] = (KerasCase(make, batch, lm), gates)
    for name, (make, gates) in SEQKERAS.items():
        cases[name] = (KerasCase(make, batch, lm), gates)
    make_lstm = SEQKERAS["seqkeras LSTM"][0]
    cases["seqkeras LSTM (XLA off)"] = (KerasCase(lambda: make_lstm(jit_compile=False), batch, lm), 4)
    cases["seqkeras LSTM (XLA on)"] = (KerasCase(lambda: make_lstm(jit_compile=True), batch, lm), 4)
    if with_bf16:
        cases["seqkeras LSTM mixed_bfloat16"] = (
            KerasCase(make_lstm, batch, lm, policy="mixed_bfloat16"),
            4,
        )
    try:
        cases["torch.nn.LSTM"] = (TorchCase(batch, lm), 4)
    except ImportError:
        print("(torch not installed: pip install torch==2.13.0 to add it)")
    return cases


def measure(cases, rounds, steps_per_round, warmup):
    for case, _ in cases.values():
        for _ in range(warmup):
            case.run()
    timings = {name: [] for name in cases}
    for _ in range(rounds):
        for name, (case, _) in cases.items():  # interleaved: noise hits every variant
            for _ in range(steps_per_round):
                start = time.perf_counter()
                case.run()
                timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in timings.items()}


def report(title, batch, medians, cases, lm, peak):
    anchor = medians["keras LSTM"]
    tokens = batch * STEPS
    print(f"\n{title}, batch {batch} ({tokens} tokens/step)")
    print(f"{'variant':32s} {'ms/step':>8s} {'tokens/s':>9s} {'× keras LSTM':>13s} {'% matmul peak':>14s}")
    for name, seconds in medians.items():
        gates = cases[name][1]
        achieved = train_flops_per_token(gates, lm) * tokens / seconds / 1e9
        print(
            f"{name:32s} {seconds * 1e3:8.1f} {tokens / seconds:9.0f} "
            f"{anchor / seconds:13.2f} {100 * achieved / peak:13.0f}%"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[20, 64])
    parser.add_argument("--only", choices=["recurrence", "lm"], default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps-per-round", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-bf16", action="store_true")
    args = parser.parse_args()
    peak = matmul_gflops()
    print(f"measured fp32 matmul peak: {peak:.0f} GFLOP/s; TF {tf.__version__}, Keras {keras.__version__}")
    workloads = [("recurrence", False), ("lm", True)]
    for label, lm in workloads:
        if args.only and args.only != label:
            continue
        for batch in args.batch:
            cases = build_cases(batch, lm, with_bf16=not args.no_bf16)
            medians = measure(cases, args.rounds, args.steps_per_round, args.warmup)
            title = "Whole small LM (vocab 10k, full softmax)" if lm else "Recurrence (2 × 200, T=35)"
            report(title, batch, medians, cases, lm, peak)


if __name__ == "__main__":
    main()
