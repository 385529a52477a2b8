"""`seqkeras tune PIPELINE`: the keras-tuner search (resumable); writes the best values.

Distributed (`seqkeras.pipeline.distributed`): ``--workers N`` runs the chief and N
workers as local processes; ``--chief HOST:PORT --worker-id ID`` makes this process one
member of a multi-host search (run the same command on every host: ``chief`` once,
``tuner0``, ``tuner1``, … for the workers).
"""

from seqkeras.pipeline.commands.common import add_pipeline_arguments, load, print_json


def configure(parser):
    add_pipeline_arguments(parser)
    parser.add_argument("--max-trials", type=int, default=None, help="override tuning.max_trials")
    parser.add_argument("--workers", type=int, default=0,
                        help="run a distributed search here: a chief and N worker processes (0: one process)")
    parser.add_argument("--chief", default=None, metavar="HOST:PORT",
                        help="multi-host search: where the chief serves the oracle (with --worker-id)")
    parser.add_argument("--worker-id", default=None, help="multi-host search: 'chief', or tuner0, tuner1, …")


def main(args):
    import os

    from seqkeras.pipeline import distributed

    if args.workers and (args.chief or args.worker_id):
        raise SystemExit("error: --workers starts its own chief; do not combine it with --chief/--worker-id")
    if bool(args.chief) != bool(args.worker_id):
        raise SystemExit("error: --chief HOST:PORT and --worker-id ID go together")
    if args.workers:
        if args.workers < 1:
            raise SystemExit(f"error: --workers must be ≥ 1, received {args.workers}")
        load(args)  # a bad spec fails here, once, not in every process
        return distributed.LocalSearch(_forwarded(args.argv), args.workers).run()
    if args.chief:
        try:
            os.environ.update(distributed.oracle_environment(args.chief, args.worker_id))
        except ValueError as error:
            raise SystemExit(f"error: {error}") from None

    from seqkeras.pipeline import runner
    from seqkeras.pipeline.run_paths import RunPaths

    spec = load(args, {"tuning.max_trials": args.max_trials} if args.max_trials else {})
    spec.check_tuning_space()                       # before the corpus is read
    paths = RunPaths.for_spec(spec, args.work_dir)
    best = runner.search(spec, runner.build_data(spec, args.data_dir, paths), paths)
    if distributed.role() == "worker":
        print(f"worker {os.environ['KERASTUNER_TUNER_ID']}: the search is over")
        return 0
    print_json({"best_hyperparameters": best, "summary": str(paths.tuning_summary),
                "plot": str(paths.tuning_plot)})
    return 0


def _forwarded(argv: list[str]) -> list[str]:
    """The ``tune`` arguments without ``--workers N`` (every process gets the rest)."""
    argv = argv[argv.index("tune") + 1:] if "tune" in argv else list(argv)
    kept, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == "--workers":
            skip = True
        elif not item.startswith("--workers="):
            kept.append(item)
    return kept
