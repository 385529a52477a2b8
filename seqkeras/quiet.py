"""Keep TensorFlow's C++ start-up logs off the terminal of a CLI run.

TensorFlow logs through absl before absl is initialised ("WARNING: All log messages
before absl::InitializeLog() ...", then ``I0000 ... cudart_stub.cc`` and
``cpu_feature_guard`` lines), and ``TF_CPP_MIN_LOG_LEVEL`` does not reach those. They
are written by C++ straight to file descriptor 2, so `filter_native_stderr` puts a
pipe in front of it: a thread copies every line to the real stderr except the
native-log lines in `NATIVE_LOG`. Python's own warnings and tracebacks pass through.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

NATIVE_LOG = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\)|[IW]\d{4} [\d:.]+ +\d+ "
    rb"|To enable the following instructions: .* rebuild TensorFlow)")


_installed = False


def filter_native_stderr() -> None:
    """Route fd 2 through a filter that drops TensorFlow's native log lines (see module
    doc); once per process."""
    global _installed
    if _installed:
        return
    _installed = True
    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def copy():
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if not NATIVE_LOG.match(line):
                    os.write(original, line)

    thread = threading.Thread(target=copy, name="stderr-filter", daemon=True)
    thread.start()

    def restore():
        sys.stderr.flush()
        os.dup2(original, 2)        # closes the pipe's last write end: the thread sees EOF
        thread.join(timeout=5)

    atexit.register(restore)
