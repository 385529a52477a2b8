"""Does a generated sample of Python source parse? The score of a source-code LM's samples.

A sample is cut off after a fixed number of characters, so its last statement is
usually unfinished; what can be judged is everything before it. The rule:

1. Tokenize the sample (`tokenize`, which tracks brackets, strings and indentation).
   A *cut* is the end of a logical line — a ``NEWLINE`` token written as a real line
   break, so outside any bracket or string — unless that logical line is a block header
   (its last token is ``:``), whose body has not been seen.
2. The scored prefix is the text up to the LAST cut: every complete statement of the
   sample, the unfinished tail dropped. A tokenizer error (bad dedent, …) before the
   last physical line fails the sample; one on the last, unfinished line, or "EOF in
   multi-line statement/string", only ends the search for cuts.
3. The sample parses when ``ast.parse(prefix)`` succeeds and the prefix holds at
   least one statement (a sample with no complete statement does not parse).

So ``"def f(x):\\n    return x\\n\\ndef g("`` scores ``"def f(x):\\n    return x\\n"``
(parses), and ``"def f(x):\\n    retur x\\nif"`` scores its first two lines (fails).

Example:
    >>> check_source("import os\\nx = os.sep\\nfor ").parses
    True
    >>> check_source("def (:\\n  pass\\n").parses
    False
"""

from __future__ import annotations

import ast
import dataclasses
import io
import tokenize
import warnings
from typing import Iterable

_SKIPPED = (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)


@dataclasses.dataclass(frozen=True)
class SourceCheck:
    """The verdict on one sample.

    Attributes:
        parses: the scored prefix parses and holds ≥ 1 statement.
        prefix: the scored prefix (every complete statement, see the module docstring).
        statements: top-level statements in the prefix when it parses, else 0.
        error: why it does not parse ("" when it does).
    """

    parses: bool
    prefix: str
    statements: int
    error: str = ""


def statement_prefix(text: str) -> tuple[str, str]:
    """``(the text up to its last complete statement, tokenizer error or "")`` (rules 1–2)."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    cut, last = 0, None
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.NEWLINE:
                # An implicit NEWLINE (string "") ends an unfinished last line: not a cut.
                if token.string and not (last is not None and last.type == tokenize.OP and last.string == ":"):
                    row, column = token.end
                    cut = starts[row - 1] + column
            elif token.type not in _SKIPPED:
                last = token
    except tokenize.TokenError:
        pass                                        # EOF inside a bracket or string: the tail
    except (IndentationError, SyntaxError) as error:
        unfinished = len(lines) if lines and not lines[-1].endswith(("\n", "\r")) else None
        if error.lineno != unfinished:
            return text[:cut], f"line {error.lineno}: {error.msg}"
    return text[:cut], ""


def check_source(text: str) -> SourceCheck:
    """Score one sample (see the module docstring for the rule)."""
    prefix, error = statement_prefix(text)
    if error:
        return SourceCheck(False, prefix, 0, error)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")         # SyntaxWarning: invalid escapes in samples
            tree = ast.parse(prefix)
    except SyntaxError as problem:
        return SourceCheck(False, prefix, 0, f"line {problem.lineno}: {problem.msg}")
    except (ValueError, RecursionError, MemoryError) as problem:   # NUL bytes, deep nesting
        return SourceCheck(False, prefix, 0, f"{type(problem).__name__}: {problem}")
    if not tree.body:
        return SourceCheck(False, prefix, 0, "no complete statement")
    return SourceCheck(True, prefix, len(tree.body))


# A complete logical line is parsed alone inside what it needs: the statement a clause
# continues (before it) and, for a block header, a body (after it).
_BEFORE = {"elif": "if x:\n    pass\n", "else": "if x:\n    pass\n", "except": "try:\n    pass\n",
           "finally": "try:\n    pass\n", "case": "match x:\n    "}
_BODY = {"try": "\n    pass\nfinally:\n    pass", "match": "\n    case _:\n        pass", "case": "\n        pass"}


def _line_parses(line: str) -> bool:
    """Whether one logical line (indentation stripped) is valid Python by itself."""
    words = line.split()
    head = words[0].split(":")[0].rstrip("*") if words else ""      # except* too
    header = line.rstrip().endswith(":")
    if head == "case" and not header:
        head = ""                                   # `case` is a keyword only in a match statement
    text = _BEFORE.get(head, "") + line
    if header:
        text += _BODY.get(head, "\n    pass")
    elif line.startswith("@"):
        text += "\ndef f(): pass"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")         # SyntaxWarning: invalid escapes in samples
            ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def line_score(text: str) -> tuple[int, int]:
    """``(complete logical lines that parse on their own, complete logical lines)`` of a sample.

    A finer score than `check_source`, which fails a whole sample for one bad token: each
    logical line that ends before the sample's unfinished tail (a ``NEWLINE`` token, so
    outside brackets and strings; comment-only and blank lines are not lines here) is
    parsed alone, a block header with a ``pass`` body, an ``elif``/``else``/``except``/
    ``finally``/``case`` clause inside the statement it continues, a decorator above a
    ``def``. A tokenizer error (bad dedent, …) ends the lines counted.

    Example:
        >>> line_score("def f(x):\n    retur x\n    return x\nelse:\n    y = (")
        (3, 4)
    """
    starts = [0]                                    # offset of each physical line
    for physical in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(physical))
    parsed = total = 0
    tokens = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.NEWLINE:
                if token.string and tokens:         # "" is the implicit end of an unfinished last line
                    (first_row, first_col), (last_row, last_col) = tokens[0].start, tokens[-1].end
                    total += 1
                    parsed += _line_parses(text[starts[first_row - 1] + first_col:starts[last_row - 1] + last_col])
                tokens = []
            elif token.type not in _SKIPPED:
                tokens.append(token)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return parsed, total


def parse_share(texts: Iterable[str]) -> float:
    """The share of `texts` that parse (`check_source`); 0.0 for none."""
    verdicts = [check_source(t).parses for t in texts]
    return sum(verdicts) / len(verdicts) if verdicts else 0.0
