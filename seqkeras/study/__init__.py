"""`seqkeras study`: experiments that train many seqkeras cells and write reports."""

from seqkeras.study.options import configure as configure_gradients


def configure(parser):
    sub = parser.add_subparsers(dest="study", required=True)
    gradients = sub.add_parser(
        "gradients", help="gradient flow and long-range tasks across every cell"
    )
    configure_gradients(gradients)


def main(args):
    from seqkeras.study.gradients import main as main_gradients

    return main_gradients(args)
