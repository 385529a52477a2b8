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


def parse_share(texts: Iterable[str]) -> float:
    """The share of `texts` that parse (`check_source`); 0.0 for none."""
    verdicts = [check_source(t).parses for t in texts]
    return sum(verdicts) / len(verdicts) if verdicts else 0.0
