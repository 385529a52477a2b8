"""seqkeras: recurrent sequence models for Keras 3 on TensorFlow.

Cells (`seqkeras.cells`) implement one step of a recurrence; the recurrent layer
(`seqkeras.layers.Recurrent`) runs any cell over a whole sequence on the fast path;
`seqkeras.data` turns corpora into tf.data pipelines; `seqkeras.pipeline` runs an
application from a TOML spec to a served SavedModel. Subpackages are imported on
first use, so ``import seqkeras`` (and the CLI) does not load TensorFlow.
"""

import importlib

__version__ = "0.1.0"


def __getattr__(name):
    if name in ("cells", "layers"):
        return importlib.import_module(f"seqkeras.{name}")
    raise AttributeError(f"module 'seqkeras' has no attribute {name!r}")
