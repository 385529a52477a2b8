"""`seqkeras tune PIPELINE`: the keras-tuner search (resumable); writes the best values."""

from seqkeras.pipeline.commands.common import add_pipeline_arguments, load, print_json


def configure(parser):
    add_pipeline_arguments(parser)
    parser.add_argument("--max-trials", type=int, default=None, help="override tuning.max_trials")


def main(args):
    from seqkeras.pipeline import runner
    from seqkeras.pipeline.run_paths import RunPaths

    spec = load(args, {"tuning.max_trials": args.max_trials} if args.max_trials else {})
    paths = RunPaths.for_spec(spec, args.work_dir)
    best = runner.search(spec, runner.build_data(spec, args.data_dir, paths), paths)
    print_json({"best_hyperparameters": best, "summary": str(paths.tuning_summary),
                "plot": str(paths.tuning_plot)})
    return 0
