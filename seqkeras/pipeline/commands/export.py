"""`seqkeras export PIPELINE`: export the trained weights as ``<output>/<name>/<version>/``."""

from seqkeras.pipeline.commands.common import add_pipeline_arguments, load_run


def configure(parser):
    add_pipeline_arguments(parser, output=True)


def main(args):
    from seqkeras.pipeline import runner

    spec, data, paths = load_run(args)
    path = runner.export(spec, runner.load_trained(spec, data, paths), data, args.output)
    print(f"exported {path}")
    return 0
