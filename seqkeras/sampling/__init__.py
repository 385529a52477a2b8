"""In-graph decoding for recurrent models: a `Sampler` base class owns the loop, each
strategy overrides `get_next_token` (keras-hub's shape, the recurrent state as cache).

* `GreedySampler`: argmax.
* `RandomSampler`: temperature, top-k, top-p (nucleus), stateless seeded sampling.
* `BeamSampler`: beam search (its own loop: states are reordered with the beams).
* `greedy_decode`, `beam_decode`: decoding of an encoder–decoder model from
  ``<bos>`` with a per-row length limit (`conditional`).
"""

from seqkeras.sampling.beam_sampler import BeamSampler
from seqkeras.sampling.conditional import (LengthPenaltyBeamSampler, beam_decode, greedy_decode,
                                           length_penalty_factor)
from seqkeras.sampling.greedy_sampler import GreedySampler
from seqkeras.sampling.random_sampler import RandomSampler, top_k_filter, top_p_filter
from seqkeras.sampling.sampler import Sampler
