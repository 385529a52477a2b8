"""`seqkeras evaluate PIPELINE`: validation metrics of the pipeline's trained weights."""

from seqkeras.pipeline.commands.common import add_pipeline_arguments, load_run, print_json


def configure(parser):
    add_pipeline_arguments(parser)


def main(args):
    from seqkeras.pipeline import runner

    spec, data, paths = load_run(args)
    print_json(runner.evaluate(spec, runner.load_trained(spec, data, paths), data))
    return 0
