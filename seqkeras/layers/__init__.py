"""Layers that run seqkeras cells over sequences (SPEC §3), and the dilated causal
convolution stack that is their convolutional baseline."""

from seqkeras.layers.attention import Attention
from seqkeras.layers.attention_decoder import AttentionDecoder, DecoderContext, TokenDecoding
from seqkeras.layers.bidirectional import Bidirectional
from seqkeras.layers.crf import CRF, crf_loss
from seqkeras.layers.dilated import DilatedCausalConv
from seqkeras.layers.logits import Logits
from seqkeras.layers.recurrent import Recurrent
from seqkeras.layers.stacked import StackedRecurrent

__all__ = ["Attention", "AttentionDecoder", "DecoderContext", "TokenDecoding", "Bidirectional", "CRF", "DilatedCausalConv", "Logits", "Recurrent", "StackedRecurrent", "crf_loss"]
