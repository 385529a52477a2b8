"""Long-range dependency tasks (SPEC §4) as tf.data streams with a configurable lag.

- `AddingProblem`: sum two marked numbers of a length-`lag` sequence;
- `CopyMemory`: recall a few symbols after `lag` blanks;
- `Agreement`: subject–verb number agreement across `lag` words of text.
"""

from seqkeras.tasks.adding import AddingProblem
from seqkeras.tasks.agreement import Agreement
from seqkeras.tasks.base import LongRangeTask
from seqkeras.tasks.copy_memory import CopyMemory

TASKS = {
    "adding": AddingProblem,
    "copy_memory": CopyMemory,
    "agreement": Agreement,
}


def get_task(name, **options):
    """A task by name (see `TASKS`)."""
    if name not in TASKS:
        raise ValueError(
            f"Received an invalid value for argument `name`, expected one of "
            f"{sorted(TASKS)}, received name={name!r}"
        )
    return TASKS[name](**options)


__all__ = ["AddingProblem", "Agreement", "CopyMemory", "LongRangeTask", "TASKS", "get_task"]
