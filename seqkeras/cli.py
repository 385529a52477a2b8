"""The `seqkeras` command line.

Each subcommand lives in its own module, which exposes `configure(parser)` (add
arguments) and `main(args)` (run, return an exit code). Register a new one in
`COMMANDS`; modules are imported only when their command runs.
"""

import argparse
import importlib
import os
import sys

# command -> (module, one-line help)
COMMANDS = {
    "demo": ("seqkeras.demo", "the main job: the Tiny Shakespeare pipeline end to end (same as `run`)"),
    "study": ("seqkeras.study", "gradient-flow study: train every cell on long-range tasks, write a report"),
    "run": ("seqkeras.pipeline.commands.run", "run a pipeline: ingest, (tune), train, evaluate, export"),
    "train": ("seqkeras.pipeline.commands.train", "train a pipeline's model (resumes an interrupted run)"),
    "tune": ("seqkeras.pipeline.commands.tune", "search a pipeline's hyperparameters with keras-tuner"),
    "evaluate": ("seqkeras.pipeline.commands.evaluate", "validation metrics of a pipeline's trained model"),
    "export": ("seqkeras.pipeline.commands.export", "export a pipeline's trained model as a SavedModel"),
    "generate": ("seqkeras.pipeline.commands.generate", "generate text from a SavedModel or a trained pipeline"),
    "predict": ("seqkeras.pipeline.commands.predict", "run a SavedModel signature on a file of inputs"),
}


def build_parser():
    parser = argparse.ArgumentParser(prog="seqkeras", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        sub.add_argument("--_configured", action="store_true", help=argparse.SUPPRESS)
    return parser, subparsers


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser, subparsers = build_parser()
    if argv and argv[0] in COMMANDS:
        # Configure only the chosen command's arguments (imports its module).
        module = importlib.import_module(COMMANDS[argv[0]][0])
        module.configure(subparsers.choices[argv[0]])
    args = parser.parse_args(argv)
    module = importlib.import_module(args._module)
    return module.main(args) or 0


if __name__ == "__main__":
    sys.exit(main())
