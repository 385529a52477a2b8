"""`seqkeras export PIPELINE`: export the trained weights as ``<output>/<name>/<version>/``."""

from seqkeras.pipeline.commands.common import add_pipeline_arguments, load


def configure(parser):
    add_pipeline_arguments(parser, output=True)


def main(args):
    from seqkeras.pipeline import runner

    spec = load(args)
    paths = runner.RunPaths.for_spec(spec, args.work_dir)
    data = runner.build_data(spec, args.data_dir, paths)
    model = runner.load_trained(spec, data, paths)
    path = runner.export(runner.apply_best_hyperparameters(spec, paths), model, data, args.output)
    print(f"exported {path}")
    return 0
