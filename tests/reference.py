"""Independent NumPy implementation of SPEC §2's equations, for tests.

Written from the specification, not from seqkeras: each step is the equation
table, with one weight matrix per gate sliced out of the cell's variables by the
column order the cells document. `run` applies Keras's masking semantics.
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": sigmoid,
    "linear": lambda x: x,
}


def _columns(matrix, names, units):
    """Split the last axis of `matrix` into per-gate blocks: name -> block."""
    return {name: matrix[..., k * units : (k + 1) * units] for k, name in enumerate(names)}


def weights_of(cell):
    """The cell's variables as NumPy arrays, by name suffix."""
    return {v.path.split("/")[-1]: np.array(v) for v in cell.weights}


def elman_step(cell, w, x, states):
    (h,) = states
    b = w.get("bias", 0.0)
    h = ACTIVATIONS[cell.activation_name](x @ w["kernel"] + h @ w["recurrent_kernel"] + b)
    return h, [h]


def lstm_step(cell, w, x, states):
    """SPEC §2 LSTM with Greff et al.'s variants."""
    h, c_prev = states
    opt = cell.options
    names = cell.gate_names
    u = cell.units
    W = _columns(w["kernel"], names, u)
    U = _columns(w["recurrent_kernel"], names, u)
    b = _columns(w["bias"], names, u) if "bias" in w else {n: 0.0 for n in names}
    pre = {n: x @ W[n] + h @ U[n] + b[n] for n in names}
    peep = {n: w.get(f"peephole_{n}", 0.0) for n in ("i", "f", "o")}
    i = sigmoid(pre["i"] + peep["i"] * c_prev) if opt["input_gate"] else 1.0
    if opt["coupled_input_forget"]:
        f = 1.0 - i
    elif opt["forget_gate"]:
        f = sigmoid(pre["f"] + peep["f"] * c_prev)
    else:
        f = 1.0
    g = np.tanh(pre["g"]) if opt["input_activation"] else pre["g"]
    c = f * c_prev + i * g
    o = sigmoid(pre["o"] + peep["o"] * c) if opt["output_gate"] else 1.0
    h = o * (np.tanh(c) if opt["output_activation"] else c)
    return h, [h, c]


def gru_step(cell, w, x, states):
    (h,) = states
    u = cell.units
    names = ("z", "r", "h")
    W = _columns(w["kernel"], names, u)
    b = _columns(w["bias"], names, u) if "bias" in w else {n: 0.0 for n in names}
    if cell.reset_after:
        U = _columns(w["recurrent_kernel"], names, u)
        rb = _columns(w["recurrent_bias"], names, u) if "recurrent_bias" in w else {n: 0.0 for n in names}
        z = sigmoid(x @ W["z"] + b["z"] + h @ U["z"] + rb["z"])
        r = sigmoid(x @ W["r"] + b["r"] + h @ U["r"] + rb["r"])
        candidate = np.tanh(x @ W["h"] + b["h"] + r * (h @ U["h"] + rb["h"]))
    else:
        U = _columns(w["recurrent_kernel"], ("z", "r"), u)
        z = sigmoid(x @ W["z"] + h @ U["z"] + b["z"])
        r = sigmoid(x @ W["r"] + h @ U["r"] + b["r"])
        candidate = np.tanh(x @ W["h"] + (r * h) @ w["candidate_kernel"] + b["h"])
    h = z * h + (1.0 - z) * candidate
    return h, [h]


def additive_step(cell, w, x, states):
    (s,) = states
    s = s + x
    if cell.nonlinear:
        s = np.tanh(s)
    return s, [s]


def ran_step(cell, w, x, states):
    h, c_prev = states
    u = cell.units
    W = _columns(w["kernel"], ("content", "i", "f"), u)
    U = _columns(w["recurrent_kernel"], ("i", "f"), u)
    b = _columns(w["bias"], ("i", "f"), u) if "bias" in w else {"i": 0.0, "f": 0.0}
    content = x @ W["content"]
    i = sigmoid(x @ W["i"] + h @ U["i"] + b["i"])
    f = sigmoid(x @ W["f"] + h @ U["f"] + b["f"])
    c = i * content + f * c_prev
    h = np.tanh(c) if cell.output_activation == "tanh" else c
    return h, [h, c]


STEPS = {
    "ElmanCell": elman_step,
    "LSTMCell": lstm_step,
    "GRUCell": gru_step,
    "AdditiveCell": additive_step,
    "RANCell": ran_step,
}


def run(cell, inputs, initial_states=None, mask=None, go_backwards=False, weights=None):
    """Run `cell`'s equations over [B, T, D] with Keras masking semantics.

    `weights` (name -> array, as `weights_of`) overrides the cell's variables.

    Returns:
        (outputs [B, T, units] in processing order, final states list).
    """
    step = STEPS[type(cell).__name__]
    w = weights_of(cell) if weights is None else weights
    inputs = np.asarray(inputs, np.float64)
    batch, steps, _ = inputs.shape
    if mask is None:
        mask = np.ones((batch, steps), bool)
    if go_backwards:
        inputs, mask = inputs[:, ::-1], mask[:, ::-1]
    if initial_states is None:
        initial_states = [np.zeros((batch, size)) for size in cell.state_size]
    states = [np.asarray(s, np.float64) for s in initial_states]
    previous_output = np.zeros((batch, cell.output_size))
    outputs = []
    for t in range(steps):
        output, new_states = step(cell, w, inputs[:, t], states)
        live = mask[:, t][:, None]
        output = np.where(live, output, previous_output)
        states = [np.where(live, n, s) for n, s in zip(new_states, states)]
        outputs.append(output)
        previous_output = output
    return np.stack(outputs, axis=1), states
