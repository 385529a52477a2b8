"""`seqkeras evaluate PIPELINE`: validation metrics of the pipeline's trained weights."""

from seqkeras.pipeline.commands.common import add_pipeline_arguments, load, print_json


def configure(parser):
    add_pipeline_arguments(parser)


def main(args):
    from seqkeras.pipeline import runner

    spec = load(args)
    paths = runner.RunPaths.for_spec(spec, args.work_dir)
    data = runner.build_data(spec, args.data_dir, paths)
    model = runner.load_trained(spec, data, paths)
    print_json(runner.evaluate(runner.apply_best_hyperparameters(spec, paths), model, data))
    return 0
