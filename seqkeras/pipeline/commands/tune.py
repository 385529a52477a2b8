"""`seqkeras tune PIPELINE`: the keras-tuner search (resumable); writes the best values."""

from seqkeras.pipeline.commands.common import add_pipeline_arguments, load, print_json


def configure(parser):
    add_pipeline_arguments(parser)
    parser.add_argument("--max-trials", type=int, default=None, help="override tuning.max_trials")


def main(args):
    from seqkeras.pipeline import runner, tuning

    extra = {"tuning.max_trials": args.max_trials} if args.max_trials else {}
    spec = load(args, extra)
    paths = runner.RunPaths.for_spec(spec, args.work_dir)
    data = runner.build_data(spec, args.data_dir, paths)
    best = tuning.tune(spec, data, paths)
    print_json({"best_hyperparameters": best, "summary": str(paths.root / "tuning_summary.md"),
                "plot": str(paths.root / "tuning_trials.png")})
    return 0
