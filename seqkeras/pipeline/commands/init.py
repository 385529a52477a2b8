"""`seqkeras init APPLICATION --data FILE`: write a commented starter spec for your data.

The spec names your files, sets what can be read from them (format, columns, tag
scheme) and lists every other key at its default with a comment, so the next step is
``seqkeras run SPEC --data-dir DIR``.
"""

from __future__ import annotations

import pathlib
import tomllib

from seqkeras.pipeline import registry
from seqkeras.pipeline.spec import SpecError, parse_spec
from seqkeras.pipeline.starter import starter_toml


def configure(parser):
    parser.add_argument("application", help="the application, e.g. classification, tagging, translation, "
                                            "language_model, word2vec")
    parser.add_argument("--data", action="append", required=True, metavar="FILE",
                        help="your training data file (repeat for a parallel corpus: source, then target)")
    parser.add_argument("--name", default="", help="pipeline name (default: my_<application>)")
    parser.add_argument("--output", default="", help="where to write the spec (default: <name>.toml)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing spec file")


def main(args):
    if args.application not in registry.names():
        raise SystemExit(f"error: unknown application {args.application!r}; one of {registry.names()}")
    for file in args.data:
        if not pathlib.Path(file).is_file():
            raise SystemExit(f"error: no such data file: {file}")
    name = args.name or f"my_{args.application}"
    output = pathlib.Path(args.output or f"{name}.toml")
    if output.exists() and not args.force:
        raise SystemExit(f"error: {output} exists (use --force to overwrite)")
    application = registry.get(args.application)
    try:
        text = starter_toml(application, args.data, name)
        parse_spec(application.spec_class, tomllib.loads(text), output)   # it must load as written
    except (ValueError, SpecError) as error:
        raise SystemExit(f"error: {error}") from None
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}; next: seqkeras run {output} --data-dir .")
    return 0
