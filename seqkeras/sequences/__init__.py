"""Dense-feature sequences: frames of feature vectors classified whole or labelled frame by frame.

``seqkeras run pipelines/japanese_vowels.toml`` reads a UEA ``.ts`` file and splits it
into stratified folds (`data`), trains a masked seqkeras encoder over the frame vectors
with a dense input projection and a softmax (``classify``) or the tagger's softmax / CRF
head over streams of concatenated utterances (``label_frames``, `model`), scores it
beside a non-recurrent baseline on the validation fold (`baselines`), and exports a
SavedModel that takes raw frames and lengths (`server`).
"""

from seqkeras.sequences.application import SequencesApplication

__all__ = ["SequencesApplication"]
