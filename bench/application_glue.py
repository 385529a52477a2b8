"""Lines of per-application glue, at any git revision: spec validation, export,
warm-up requests and export validation, counted function by function.

    python bench/application_glue.py                 # the working tree
    python bench/application_glue.py --rev 83fa3a8   # a commit

Counts the lines of every function or method, in the application packages, whose name
marks it as glue (`validate`, `export*`/`exporter`/`signatures`, `warmup*`,
`_validate*`/`check_outputs`), and prints a table per application plus the
lines of the shared machinery that replaced copies (the `Application` base, the
`Exporter` base and the spec check helpers live outside the application packages).
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess

APPLICATIONS = ("language_model", "classification", "tagging", "translation", "word2vec", "tasks")
CATEGORIES = {
    "spec validation": re.compile(r"^(validate|check_choices|_choice|_check_range)$"),
    "export": re.compile(r"^(export\w*|exporter|make_server|signatures|version_argument)$"),
    "warm-up": re.compile(r"^warmup\w*$"),
    "export validation": re.compile(r"^(_validate\w*|validate_export|check_outputs)$"),
}


def files(rev: str | None, prefix: str) -> dict[str, str]:
    """``{path: source}`` of the .py files under `prefix` at `rev` (None: working tree)."""
    if rev is None:
        listing = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", prefix],
                                 capture_output=True, text=True, check=True).stdout.split()
        paths = [p for p in listing if p.endswith(".py")]
        out = {}
        for p in paths:
            try:
                with open(p, encoding="utf-8") as handle:
                    out[p] = handle.read()
            except FileNotFoundError:
                continue
        return out
    listing = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, prefix],
                             capture_output=True, text=True, check=True).stdout.split()
    return {p: subprocess.run(["git", "show", f"{rev}:{p}"], capture_output=True, text=True, check=True).stdout
            for p in listing if p.endswith(".py")}


def glue_lines(sources: dict[str, str]) -> dict[str, int]:
    totals = dict.fromkeys(CATEGORIES, 0)
    for source in sources.values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for category, pattern in CATEGORIES.items():
                    if pattern.match(node.name):
                        totals[category] += node.end_lineno - node.lineno + 1
                        break
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default=None, help="git revision (default: the working tree)")
    args = parser.parse_args()
    print(f"| application | {' | '.join(CATEGORIES)} | total |")
    print("|---|" + "---|" * (len(CATEGORIES) + 1))
    grand = dict.fromkeys(CATEGORIES, 0)
    for app in APPLICATIONS:
        counts = glue_lines(files(args.rev, f"seqkeras/{app}"))
        grand = {k: grand[k] + counts[k] for k in grand}
        print(f"| {app} | {' | '.join(str(v) for v in counts.values())} | {sum(counts.values())} |")
    print(f"| **all applications** | {' | '.join(str(v) for v in grand.values())} | {sum(grand.values())} |")
    shared = {p: s for p, s in {**files(args.rev, "seqkeras/pipeline/application.py"),
                                **files(args.rev, "seqkeras/serving/exporter.py")}.items()}
    print(f"\nshared contract code (application.py + serving/exporter.py): "
          f"{sum(len(s.splitlines()) for s in shared.values())} lines")


if __name__ == "__main__":
    main()
