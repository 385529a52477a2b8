"""The `seqkeras` command line.

Each subcommand lives in its own module, which exposes `configure(parser)` (add
arguments) and `main(args)` (run, return an exit code). Register a new one in
`COMMANDS`; a module is imported only when its command is named, and none imports
TensorFlow before `main`, so ``--help`` and argument errors answer at once.

TensorFlow's native start-up logs and Keras warnings that a user cannot act on are
hidden unless ``--verbose`` is given (`quiet`). So are the tracebacks of errors a user
can act on (bad data, a bad spec): they end the command with one line that says what is
wrong and where, and how to fix it (`user_error`).
"""

import argparse
import errno
import importlib
import os
import re
import sys
import warnings

from seqkeras.quiet import import_tensorflow_quietly

# command -> (module, one-line help)
COMMANDS = {
    "demo": ("seqkeras.demo", "the main job: the Tiny Shakespeare pipeline end to end (same as `run`)"),
    "init": ("seqkeras.pipeline.commands.init", "write a commented starter spec for your own data file"),
    "run": ("seqkeras.pipeline.commands.run", "run a pipeline: ingest, (tune), train, evaluate, export"),
    "train": ("seqkeras.pipeline.commands.train", "train a pipeline's model (resumes an interrupted run)"),
    "tune": ("seqkeras.pipeline.commands.tune", "search a pipeline's hyperparameters with keras-tuner"),
    "evaluate": ("seqkeras.pipeline.commands.evaluate", "validation metrics of a pipeline's trained model"),
    "export": ("seqkeras.pipeline.commands.export", "export a pipeline's trained model as a SavedModel"),
    "generate": ("seqkeras.pipeline.commands.generate", "generate text from a SavedModel or a trained pipeline"),
    "predict": ("seqkeras.pipeline.commands.predict", "run a SavedModel signature on a file of inputs"),
    "serve": ("seqkeras.pipeline.commands.serve", "serve a base path of SavedModels with TensorFlow Serving's REST API"),
    "weat": ("seqkeras.pipeline.commands.weat", "bias in word vectors: WEAT effect sizes and the he:she analogy probe"),
    "study": ("seqkeras.study", "gradient-flow study: train every cell on long-range tasks, write a report"),
}

# Keras warnings about what the runner does on purpose: `shuffle` with a tf.data input
# (the dataset shuffles itself), and a finite dataset of unknown length ending an epoch.
QUIET_WARNINGS = (r".*`shuffle=True` was passed, but will be ignored.*", r".*Your input ran out of data.*")


def build_parser():
    parser = argparse.ArgumentParser(prog="seqkeras", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up logs and every Keras warning")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
    return parser, subparsers


def quiet() -> None:
    """Hide TensorFlow's native logs and the Keras warnings in `QUIET_WARNINGS`.

    Level 3 also hides native ERROR lines such as "failed call to cuInit" on every
    machine without a GPU; a failure that matters raises a Python exception as well, and
    ``--verbose`` shows every line.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for pattern in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    import_tensorflow_quietly()


# File operations refused for a reason outside the program: a full disk, a file size or
# quota limit, a read-only or unwritable directory, a path through a regular file.
REFUSED_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR}
# TensorFlow's file system reports them in an OpError's message as "<path>; <strerror>"
# (the path may carry a ".tempstate<N>" suffix of its own temporary file).
TF_REFUSED = re.compile(r"(/\S+?)(?:\.tempstate\d+)?(?:; | is )(No space left on device|File too large|"
                               r"Disk quota exceeded|Read-only file system|Permission denied|not a directory)")


def refused_by_file_system(error: BaseException) -> str | None:
    """'<path>: <reason>' for a file operation that the file system refused, else None."""
    if isinstance(error, OSError) and error.errno in REFUSED_ERRNOS:
        return f"{error.filename}: {error.strerror}"
    match = TF_REFUSED.search(str(getattr(error, "message", "")))
    if type(error).__module__.startswith("tensorflow") and match:
        return f"{match.group(1)}: {match.group(2)}"
    return None


def user_error(error: BaseException) -> str | None:
    """The one-line message for an error the user can fix, or None for any other error.

    `DataError` and `SpecError` name the file (and line or key) already; a missing
    corpus file also says which data directory was searched and how to choose another;
    a file operation the file system refused names the file and the reason (outputs are
    written atomically: a refused write leaves nothing half-written).
    """
    from seqkeras.data.errors import DataError, MissingDataError
    from seqkeras.data.paths import ENV_VAR
    from seqkeras.pipeline.spec import SpecError

    if isinstance(error, MissingDataError):
        return (f"error: {error}; relative corpus paths are read from the data directory: choose it with "
                f"--data-dir DIR or {ENV_VAR}=DIR")
    if isinstance(error, (DataError, SpecError)):
        return f"error: {error}"
    refused = refused_by_file_system(error)
    if refused:
        return (f"error: {refused} (nothing half-written is kept: free space, or choose another "
                f"--output / --work-dir)")
    return None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, subparsers = build_parser()
    command = next((a for a in argv if not a.startswith("-")), None)
    if command in COMMANDS:
        # Configure only the chosen command's arguments (imports its module, not TensorFlow).
        importlib.import_module(COMMANDS[command][0]).configure(subparsers.choices[command])
    args = parser.parse_args(argv)
    args.argv = argv  # for commands that start copies of themselves (`tune --workers`)
    if not args.verbose:
        quiet()
    try:
        return importlib.import_module(args._module).main(args) or 0
    except Exception as error:  # noqa: BLE001 - re-raised unless the user can fix it
        message = None if args.verbose else user_error(error)
        if message is None:
            raise
        print(message + " (--verbose shows the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
