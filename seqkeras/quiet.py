"""Keep TensorFlow's native start-up logs off the terminal of a CLI run.

TensorFlow logs through absl before absl is initialised ("WARNING: All log messages
before absl::InitializeLog() ...", then ``I0000 ... cudart_stub.cc`` and oneDNN
lines) while it is imported, and ``TF_CPP_MIN_LOG_LEVEL`` does not reach those lines.
They are written by C++ straight to file descriptor 2, so `import_tensorflow_quietly`
points that descriptor at a temporary file during the import and afterwards copies to
stderr every line that is not one of them (`NATIVE_LOG`). Nothing else is filtered:
later warnings and errors reach stderr as they are written.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

NATIVE_LOG = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\)|[IW]\d{4} [\d:.]+ +\d+ "
    rb"|To enable the following instructions: .* rebuild TensorFlow)")


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras with their native start-up log lines dropped."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401  (loads TensorFlow's native libraries)
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured:
                if not NATIVE_LOG.match(line):
                    sys.stderr.buffer.write(line)
            sys.stderr.flush()
