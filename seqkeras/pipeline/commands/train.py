"""`seqkeras train PIPELINE`: ingest → train (resuming an interrupted run) → evaluate."""

from seqkeras.pipeline.commands.common import add_pipeline_arguments, load_run, print_json


def configure(parser):
    add_pipeline_arguments(parser)
    parser.add_argument("--epochs", type=int, default=None, help="override training.epochs")
    parser.add_argument("--fresh", action="store_true", help="ignore a backup: start from scratch")


def main(args):
    from seqkeras.pipeline import runner

    spec, data, paths = load_run(args)
    model, _ = runner.train(spec, data, paths, epochs=args.epochs, resume=not args.fresh, keep_backup=True)
    print_json({"validation": runner.evaluate(spec, model, data), "weights": str(paths.weights),
                "learning_curve": str(paths.learning_curve)})
    runner.discard_backup(paths)  # kept until now: a kill in the evaluation resumes without retraining
    return 0
