"""`seqkeras run PIPELINE`: ingest → (tune) → train → evaluate → export."""

from seqkeras.pipeline.commands.common import add_pipeline_arguments, load


def configure(parser):
    add_pipeline_arguments(parser, output=True)
    parser.add_argument("--tune", action="store_true", default=None, help="tune first (default: the spec's tuning.enabled)")
    parser.add_argument("--no-tune", dest="tune", action="store_false", help="skip tuning")
    parser.add_argument("--epochs", type=int, default=None, help="override training.epochs")
    parser.add_argument("--no-export", dest="export", action="store_false", default=None, help="skip the export")


def main(args):
    from seqkeras.pipeline import runner

    spec = load(args)
    report = runner.run(spec, data_dir=args.data_dir, output=args.output, work_dir=args.work_dir,
                        tune=args.tune, epochs=args.epochs, export_model=args.export)
    print(f"run report: {runner.RunPaths.for_spec(spec, args.work_dir).report}")
    print(f"total wall time: {report['total_seconds']:.0f} s")
    return 0
