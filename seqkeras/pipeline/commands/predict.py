"""`seqkeras predict SAVED_MODEL INPUTS`: run a SavedModel signature on a file of inputs.

Any signature of any export works: inputs of any dtype (string, integer, float, bool)
and rank. Inputs of rank ≥ 1 are *batched* (their first dimension is the batch);
rank-0 inputs are *scalars*, one value for a whole batch.

INPUTS (``-`` = stdin) comes in one of two formats (``--format``):

* ``text``: one input string per line, fed in batches to the signature's only
  batched input, which must be ``string[None]``. The default when the signature has
  exactly that one batched input.
* ``jsonl``: one JSON object per line mapping input names to that example's value:
  a scalar for a ``[None]`` input, a list for ``[None, T]``, a list of lists for
  ``[None, T, F]`` (and so on). Examples of one batch with different lengths are
  right-padded to a rectangle with the dtype's default (``""``, ``0``, ``0.0``,
  ``false``); dimensions the signature fixes must match exactly. Blank lines are
  skipped. The default when INPUTS ends in ``.jsonl`` / ``.json``, or when the
  signature has no single batched ``string[None]`` input.

With ``--read-files`` (text format) each line names a file whose bytes are the input
(e.g. images for the captioning export's ``image`` input); the output's ``input`` is
the file name.

A scalar input takes its ``--arg NAME=VALUE`` value or, when absent there, its value
in the JSON objects (every example of a batch must give the same one). A signature
with only scalar inputs runs once per line.

Outputs are printed as JSON lines, one per input example:
``{"input": <the line's text or object>, <output name>: <that example's value>, ...}``;
outputs that are not batched (e.g. rank 0) are repeated on every line. A NaN or
infinite output value (the perplexity of an empty input) is written as ``null``.

A line that is not UTF-8 ends the command with an error naming that line.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys

FORMATS = ("auto", "text", "jsonl")
_JSON_SUFFIXES = (".jsonl", ".json")


def configure(parser):
    parser.add_argument("saved_model", help="saved_models/<name>[/<version>]")
    parser.add_argument("inputs", help="text file (one input per line) or JSON lines file (- for stdin)")
    parser.add_argument("--signature", default="serving_default")
    parser.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                        help="value of a scalar signature input, e.g. --arg max_new_tokens=50")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--output", default="-", help="JSON lines file (default: stdout)")
    parser.add_argument("--read-files", action="store_true",
                        help="text format: each line is a file name; feed the file's bytes (e.g. an image)")
    parser.add_argument("--format", choices=FORMATS, default="auto",
                        help="text: one string per line; jsonl: one JSON object per line (input name -> value); "
                             "auto (default): jsonl for .jsonl/.json files or signatures without a single "
                             "string[None] input, else text")


def _fail(message):
    raise SystemExit(f"error: {message}")


def _jsonable(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _a(noun):
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _short(value, limit=60):
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _Input:
    """One signature input: its name, TensorSpec and the conversion of JSON values to its dtype."""

    def __init__(self, name, spec):
        self.name = name
        self.spec = spec
        self.dtype = spec.dtype
        self.rank = spec.shape.rank
        self.dims = None if self.rank is None else spec.shape.as_list()
        if self.rank is None:
            _fail(f"input {name!r} has unknown rank ({spec}); predict needs inputs of known rank")
        dtype = self.dtype
        if dtype.name == "string":
            self.kind, self.default, self.noun = "string", b"", "string"
        elif dtype.is_bool:
            self.kind, self.default, self.noun = "bool", False, "boolean"
        elif dtype.is_integer and not dtype.is_quantized:
            self.kind, self.default, self.noun = "int", 0, "integer"
        elif dtype.is_floating:
            self.kind, self.default, self.noun = "float", 0.0, "number"
        else:
            _fail(f"input {name!r} has dtype {dtype.name}, which predict cannot feed "
                  f"(supported: string, integer, float, bool)")
        self.np_dtype = object if self.kind == "string" else dtype.as_numpy_dtype

    @property
    def batched(self):
        return self.rank >= 1

    @property
    def is_text(self):
        return self.kind == "string" and self.rank == 1

    def describe(self):
        """``int32[None, None]``, ``float32[]``."""
        return f"{self.dtype.name}[{', '.join('None' if d is None else str(d) for d in self.dims)}]"

    def form(self):
        """What one example's value looks like in a JSON object."""
        depth = self.rank - 1 if self.batched else 0
        if depth == 0:
            return _a(self.noun)
        return "a " + "list of " * (depth - 1) + f"list of {self.noun}s"

    def expects(self):
        what = "scalar" if not self.batched else "batched"
        return f"input {self.name!r} ({what} {self.describe()}: {self.form()})"

    def convert(self, value, where):
        """A JSON scalar → the Python value fed to this input's dtype; SystemExit if it does not convert."""
        import numpy as np

        if isinstance(value, (list, dict)):
            _fail(f"{where}: {self.expects()}: got {_short(value)}, nested too deeply "
                  f"(wrong nesting depth; expected {self.noun} values here)")
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.kind == "string" and isinstance(value, str):
            return value.encode("utf-8", "replace")
        if self.kind == "bool" and isinstance(value, bool):
            return value
        if self.kind == "int" and number:
            if isinstance(value, float) and not value.is_integer():
                _fail(f"{where}: {self.expects()}: {value} is not an integer (dtype {self.dtype.name})")
            info = np.iinfo(self.np_dtype)
            if not info.min <= value <= info.max:
                _fail(f"{where}: {self.expects()}: {value} is out of range for {self.dtype.name} "
                      f"[{info.min}, {info.max}]")
            return int(value)
        if self.kind == "float" and number:
            value = float(value)
            try:
                largest = float(np.finfo(self.np_dtype).max)
            except (TypeError, ValueError):
                largest = math.inf
            if math.isfinite(value) and abs(value) > largest:
                _fail(f"{where}: {self.expects()}: {value} is out of range for {self.dtype.name}")
            return value
        _fail(f"{where}: {self.expects()}: {_short(value)} is not {_a(self.noun)} (dtype {self.dtype.name})")

    def parse_arg(self, text):
        """A ``--arg`` string → the Python value for this scalar input."""
        where = f"--arg {self.name}={text}"
        try:
            if self.kind == "string":
                return text.encode("utf-8")
            if self.kind == "bool":
                lowered = text.strip().lower()
                if lowered not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                return lowered in ("true", "1")
            if self.kind == "int":
                return self.convert(int(text.strip()), where)
            return self.convert(float(text.strip()), where)
        except ValueError:
            _fail(f"{where}: {self.expects()}: {text!r} is not {_a(self.noun)}")

    def tensor(self, value):
        import numpy as np
        import tensorflow as tf

        return tf.constant(np.asarray(value, dtype=self.np_dtype), self.dtype)

    # -- batched inputs -------------------------------------------------------------------

    def nested(self, value, where):
        """One example's JSON value → nested lists of converted scalars (depth rank − 1)."""
        return self._nested(value, self.rank - 1, where)

    def _nested(self, value, depth, where):
        if depth == 0:
            return self.convert(value, where)
        if not isinstance(value, list):
            level = self.rank - 1 - depth
            inside = "" if level == 0 else f" at nesting depth {level}"
            _fail(f"{where}: {self.expects()}: got {_short(value)}{inside}, expected a list "
                  f"(wrong nesting depth)")
        return [self._nested(v, depth - 1, where) for v in value]

    def batch_tensor(self, rows, wheres):
        """Converted examples (nested lists) → one right-padded tensor [B, ...]."""
        import numpy as np

        depth = self.rank - 1
        shape = [len(rows)] + [0] * depth

        def measure(value, level, where):
            if level == depth:
                return
            fixed = self.dims[level + 1]
            if fixed is not None and len(value) != fixed:
                axis = "the example" if level == 0 else f"a list at nesting depth {level}"
                _fail(f"{where}: {self.expects()}: {axis} has {len(value)} items, the signature fixes "
                      f"dimension {level + 1} to {fixed}")
            shape[level + 1] = max(shape[level + 1], len(value))
            for v in value:
                measure(v, level + 1, where)

        for row, where in zip(rows, wheres):
            measure(row, 0, where)
        array = np.full(shape, self.default, dtype=self.np_dtype)

        def fill(value, index, level):
            if level == depth - 1:
                array[index + (slice(0, len(value)),)] = value
                return
            for j, v in enumerate(value):
                fill(v, index + (j,), level + 1)

        for i, row in enumerate(rows):
            if depth == 0:
                array[i] = row
            else:
                fill(row, (i,), 0)
        return self.tensor(array)


def _read_lines(stream, label):
    """(1-based number, text) of each line of a binary stream; SystemExit naming the
    line that is not UTF-8 (a text-mode stream would only say where in the buffer)."""
    for number, raw in enumerate(stream, 1):
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as error:
            _fail(f"{label} line {number}: not UTF-8 text (byte {raw[error.start]:#04x} at column "
                  f"{error.start + 1})")


def _batches(items, size):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def main(args):
    import tensorflow as tf

    from seqkeras.pipeline.commands.generate import resolve_saved_model
    from seqkeras.serving.rest import json_safe

    if args.batch_size < 1:
        _fail(f"--batch-size must be ≥ 1, got {args.batch_size}")
    loaded = tf.saved_model.load(str(resolve_saved_model(args.saved_model)))
    if args.signature not in loaded.signatures:
        _fail(f"no signature {args.signature!r}; available: {sorted(loaded.signatures)}")
    fn = loaded.signatures[args.signature]
    inputs = {name: _Input(name, spec) for name, spec in fn.structured_input_signature[1].items()}
    batched = [i for i in inputs.values() if i.batched]
    scalars = [i for i in inputs.values() if not i.batched]
    signature_text = ", ".join(f"{i.name}: {i.describe()}" for i in inputs.values()) or "no inputs"

    fixed = {}
    for item in args.arg:
        name, sep, value = item.partition("=")
        if not sep:
            _fail(f"--arg {item!r}: expected NAME=VALUE")
        if name not in inputs:
            _fail(f"--arg {item!r}: signature {args.signature!r} has no input {name!r}; inputs: {signature_text}")
        if inputs[name].batched:
            _fail(f"--arg {item!r}: {inputs[name].expects()} is batched; --arg sets scalar inputs only "
                  f"(give batched inputs in the INPUTS file)")
        fixed[name] = inputs[name].tensor(inputs[name].parse_arg(value))

    text_ok = len(batched) == 1 and batched[0].is_text
    fmt = args.format
    if fmt == "auto":
        fmt = "jsonl" if str(args.inputs).lower().endswith(_JSON_SUFFIXES) or not text_ok else "text"
    label = "<stdin>" if args.inputs == "-" else str(args.inputs)
    if args.read_files and fmt != "text":
        _fail("--read-files needs the text format (one file name per line)")
    if fmt == "text":
        if not text_ok:
            _fail(f"--format text needs a signature with exactly one batched string[None] input; "
                  f"{args.signature!r} has {signature_text} (use --format jsonl)")
        missing = [i for i in scalars if i.name not in fixed]
        if missing:
            _fail("give --arg values for " + ", ".join(f"{i.name} ({i.describe()})" for i in missing))

    # Batch sizes: a fixed batch dimension wins; a signature without batched inputs runs per example.
    fixed_sizes = {i.dims[0] for i in batched if i.dims[0] is not None}
    if len(fixed_sizes) > 1:
        _fail(f"signature {args.signature!r} fixes different batch sizes: {signature_text}")
    static_batch = next(iter(fixed_sizes), None)
    batch_size = static_batch or (args.batch_size if batched else 1)
    dynamic_batch = bool(batched) and static_batch is None
    try:
        out_specs = dict(fn.structured_outputs)
    except (TypeError, ValueError, AttributeError):
        out_specs = {}

    def is_batched_output(name, value, size):
        if not batched or value.ndim == 0 or value.shape[0] != size:
            return False
        static = getattr(out_specs.get(name), "shape", None)
        if static is not None and static.rank and static[0] is not None and dynamic_batch:
            return False  # a fixed-size output of a signature whose batch size varies
        return True

    def examples_text(stream):
        for number, line in _read_lines(stream, label):
            yield number, line.removesuffix("\n").removesuffix("\r"), None

    def examples_jsonl(stream):
        for number, line in _read_lines(stream, label):
            if not line.strip():
                continue
            where = f"{label} line {number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as error:
                _fail(f"{where}: bad JSON ({error.msg} at column {error.colno})")
            if not isinstance(obj, dict):
                _fail(f"{where}: expected a JSON object mapping input names to values, got {_short(obj)}")
            unknown = [k for k in obj if k not in inputs]
            if unknown:
                _fail(f"{where}: unknown input {unknown[0]!r}; signature {args.signature!r} has {signature_text}")
            missing = [i for i in inputs.values() if i.name not in obj and i.name not in fixed]
            if missing:
                _fail(f"{where}: missing " + "; ".join(i.expects() for i in missing)
                      + ("" if all(i.batched for i in missing) else " (give scalars here or with --arg)"))
            values = {i.name: i.nested(obj[i.name], where) for i in batched}
            for i in scalars:
                if i.name not in fixed:
                    values[i.name] = i.convert(obj[i.name], where)
            yield number, obj, values

    def read_file(number, name):
        try:
            with open(name, "rb") as stream:
                return stream.read()
        except OSError as error:
            _fail(f"{label} line {number}: cannot read {name!r}: {error.strerror or error}")

    def feeds(batch):
        if fmt == "text":
            values = [read_file(number, text) if args.read_files else text.encode("utf-8")
                      for number, text, _ in batch]
            return {batched[0].name: tf.constant(values, tf.string)}
        wheres = [f"{label} line {number}" for number, _, _ in batch]
        feed = {i.name: i.batch_tensor([values[i.name] for _, _, values in batch], wheres) for i in batched}
        for i in scalars:
            if i.name in fixed:
                continue
            (first, value), *rest = [(n, values[i.name]) for n, _, values in batch]
            for number, other in rest:
                if other != value and not (other != other and value != value):  # NaN == NaN here
                    _fail(f"{label} line {number}: scalar {i.expects()} must be the same for every example "
                          f"of a batch: line {first} has {_short(_jsonable(value))}, line {number} has "
                          f"{_short(_jsonable(other))} (use --arg {i.name}=VALUE, or --batch-size 1)")
            feed[i.name] = i.tensor(value)
        return feed

    with contextlib.ExitStack() as stack:
        if args.inputs == "-":
            stream = sys.stdin.buffer
        else:
            try:
                stream = stack.enter_context(open(args.inputs, "rb"))
            except OSError as error:
                _fail(f"cannot read {label}: {error.strerror or error}")
        out = sys.stdout if args.output == "-" else stack.enter_context(open(args.output, "w", encoding="utf-8"))
        examples = examples_text(stream) if fmt == "text" else examples_jsonl(stream)
        for batch in _batches(examples, batch_size):
            if static_batch is not None and len(batch) != static_batch:
                _fail(f"signature {args.signature!r} fixes the batch size to {batch_size} "
                      f"({signature_text}); the last batch has {len(batch)} examples")
            result = fn(**feeds(batch), **fixed)
            columns = {name: (is_batched_output(name, value, len(batch)), _jsonable(value))
                       for name, value in ((name, tensor.numpy()) for name, tensor in result.items())}
            for row, (_, shown, _) in enumerate(batch):
                record = {"input": json_safe(shown)}
                record.update({name: json_safe(value[row] if rows else value)
                               for name, (rows, value) in columns.items()})
                out.write(json.dumps(record, allow_nan=False) + "\n")
            out.flush()
    return 0
