"""In-graph decoding for recurrent models: a `Sampler` base class owns the loop, each
strategy overrides `get_next_token` (keras-hub's shape, the recurrent state as cache).

* `GreedySampler`: argmax.
* `RandomSampler`: temperature, top-k, top-p (nucleus), stateless seeded sampling.
* `BeamSampler`: beam search (its own loop: states are reordered with the beams).
"""

from seqkeras.sampling.beam_sampler import BeamSampler
from seqkeras.sampling.greedy_sampler import GreedySampler
from seqkeras.sampling.random_sampler import RandomSampler, top_k_filter, top_p_filter
from seqkeras.sampling.sampler import Sampler
