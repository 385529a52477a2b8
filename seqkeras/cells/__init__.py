"""Recurrent cells (SPEC §2): one step of a recurrence each.

Every cell is a Keras RNN cell (`keras.layers.RNN(cell)` works) and splits its
step into a hoistable input projection and a recurrent transition, which
`seqkeras.layers.Recurrent` runs on the fast path.
"""

from seqkeras.cells.additive import AdditiveCell
from seqkeras.cells.base import RecurrentCell
from seqkeras.cells.elman import ElmanCell
from seqkeras.cells.gru import GRUCell
from seqkeras.cells.lstm import LSTM_VARIANTS, LSTMCell
from seqkeras.cells.ran import RANCell

CELLS = {
    "elman": ElmanCell,
    "lstm": LSTMCell,
    "gru": GRUCell,
    "additive": AdditiveCell,
    "ran": RANCell,
}

__all__ = [
    "AdditiveCell",
    "CELLS",
    "ElmanCell",
    "GRUCell",
    "LSTMCell",
    "LSTM_VARIANTS",
    "RANCell",
    "RecurrentCell",
]
