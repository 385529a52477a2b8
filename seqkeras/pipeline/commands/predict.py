"""`seqkeras predict SAVED_MODEL INPUTS`: run a SavedModel signature on a file of inputs.

Each line of INPUTS (``-`` = stdin) is one input string, fed in batches to the
signature's string input; scalar inputs of the signature take their ``--arg NAME=VALUE``
value. Outputs are printed as JSON lines, one per input line.
"""

from __future__ import annotations

import json
import sys


def configure(parser):
    parser.add_argument("saved_model", help="saved_models/<name>[/<version>]")
    parser.add_argument("inputs", help="text file, one input per line (- for stdin)")
    parser.add_argument("--signature", default="serving_default")
    parser.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                        help="value of a scalar signature input, e.g. --arg max_new_tokens=50")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--output", default="-", help="JSON lines file (default: stdout)")


def _jsonable(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def main(args):
    import tensorflow as tf

    from seqkeras.pipeline.commands.generate import resolve_saved_model

    loaded = tf.saved_model.load(str(resolve_saved_model(args.saved_model)))
    if args.signature not in loaded.signatures:
        raise SystemExit(f"error: no signature {args.signature!r}; available: {sorted(loaded.signatures)}")
    fn = loaded.signatures[args.signature]
    specs = fn.structured_input_signature[1]
    text_inputs = [n for n, s in specs.items() if s.dtype == tf.string and s.shape.rank == 1]
    if len(text_inputs) != 1:
        raise SystemExit(f"error: signature {args.signature!r} needs one string[None] input, has {specs}")
    fixed = {}
    for item in args.arg:
        name, _, value = item.partition("=")
        if name not in specs:
            raise SystemExit(f"error: signature {args.signature!r} has no input {name!r}; inputs: {sorted(specs)}")
        fixed[name] = tf.constant(float(value) if specs[name].dtype.is_floating else
                                  int(value) if specs[name].dtype.is_integer else value, specs[name].dtype)
    missing = [n for n in specs if n not in fixed and n != text_inputs[0]]
    if missing:
        raise SystemExit(f"error: give --arg values for {missing}")
    stream = sys.stdin if args.inputs == "-" else open(args.inputs, encoding="utf-8")
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    lines = [line.rstrip("\n") for line in stream]
    for start in range(0, len(lines), args.batch_size):
        batch = lines[start:start + args.batch_size]
        result = fn(**{text_inputs[0]: tf.constant(batch)}, **fixed)
        columns = {k: _jsonable(v.numpy()) for k, v in result.items()}
        for i, line in enumerate(batch):
            out.write(json.dumps({"input": line, **{k: v[i] for k, v in columns.items()}}) + "\n")
    if out is not sys.stdout:
        out.close()
    return 0
