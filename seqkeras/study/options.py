"""The cells, tasks and command-line options of `seqkeras study gradients`.

Kept apart from the experiment so that ``seqkeras study gradients --help`` answers
without importing TensorFlow.
"""

FULL_CELLS = (
    "lstm", "elman", "gru", "lstm-nfg", "lstm-noaf", "lstm-cifg", "lstm-peephole",
    "lstm-nig", "lstm-nog", "lstm-niaf", "ran", "additive",
)
QUICK_CELLS = ("elman", "lstm", "lstm-nfg")
TASK_NAMES = ("adding", "copy_memory", "agreement")


def configure(parser):
    """Add the arguments of `seqkeras study gradients` to `parser`."""
    parser.add_argument("--output", default="docs/gradients",
                        help="directory for README.md, results.json and the PNGs")
    parser.add_argument("--quick", action="store_true",
                        help="a ≤ 3 minute run with 3 cells and short lags")
    parser.add_argument("--cells", default=None,
                        help=f"comma-separated subset of {','.join(FULL_CELLS)}")
    parser.add_argument("--steps", type=int, default=None, help="training steps per run")
    parser.add_argument("--lags", default=None, help="comma-separated lags, e.g. 10,20,40")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite README.md and the PNGs from OUTPUT/results.json")
    parser.add_argument("--merge", default=None,
                        help="with --report-only: comma-separated result directories of runs "
                             "over disjoint --cells (same budget) to combine into OUTPUT")
