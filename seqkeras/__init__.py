"""seqkeras: recurrent sequence models for Keras 3 on TensorFlow.

Cells (`seqkeras.cells`) implement one step of a recurrence; the recurrent layer
(`seqkeras.layers.Recurrent`) runs any cell over a whole sequence on the fast path;
`seqkeras.data` turns corpora into tf.data pipelines.
"""

__version__ = "0.1.0"

from seqkeras import cells  # noqa: E402,F401
from seqkeras import layers  # noqa: E402,F401
