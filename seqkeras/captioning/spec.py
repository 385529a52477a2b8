"""The captioning pipeline spec: image folder + caption table, CNN encoder, decoder, decoding.

Example TOML (see ``pipelines/flickr8k_captions.toml``)::

    application = "captioning"
    name = "flickr8k_captions"

    [data]
    images = "flickr8k/images"          # <image_id>.jpg inside
    captions = "flickr8k/captions.tsv"  # image_id<TAB>caption, several per image
    splits = "flickr8k/splits.tsv"      # image_id<TAB>split

    [model]
    encoder = "cnn"                     # or a keras.applications name: "mobilenet_v3_small"
    attention = "none"                  # Show and Tell; or "bahdanau" | "luong" (soft attention)

    [decoding]
    beam_width = 5
"""

from __future__ import annotations

import dataclasses

from seqkeras.layers.attention_decoder import ATTENTIONS
from seqkeras.pipeline.spec import PipelineSpec, SpecError, TrainingSpec, TuningSpec

LUONG_SCORES = ("general", "dot")


@dataclasses.dataclass
class DataSpec:
    """Images, captions and splits (data-dir relative), caption vocabulary, augmentation."""

    images: str = "flickr8k/images"          # folder holding <image_id><image_suffix>
    image_suffix: str = ".jpg"               # appended to an image_id that has no suffix
    captions: str = "flickr8k/captions.tsv"  # header image_id<TAB>caption; several rows per image
    splits: str = "flickr8k/splits.tsv"      # header image_id<TAB>split
    train_splits: list = dataclasses.field(default_factory=lambda: ["train", "none"])
    validation_split: str = "dev"
    image_size: int = 96                     # every image is resized to image_size × image_size
    captions_per_image: int = 5              # K: one training example = an image and K of its captions
    lowercase: bool = True
    min_count: int = 5                       # caption words seen fewer times in training become <unk>
    max_length: int = 24                     # words kept per training caption (the rest is cut)
    augment: bool = True                     # training images: random crop after padding, random flip
    crop_padding: int = 8                    # pixels of edge padding before the random crop
    flip: bool = True                        # random horizontal flip


@dataclasses.dataclass
class ModelSpec:
    """CNN image encoder (feature map = attention memory, pooled = initial state) → decoder."""

    encoder: str = "cnn"               # "cnn" (built here, from scratch) | a keras.applications constructor
    encoder_weights: str = ""          # keras.applications weights: "" = random init, "imagenet", a file
    encoder_width: int = 32            # cnn: channels of the first block, doubled every block
    encoder_blocks: int = 4            # cnn: conv blocks, each halving the map (96 → 6 with 4)
    encoder_convs: int = 1             # cnn: 3×3 conv + batch norm + ReLU layers per block
    memory_dim: int = 0                # project the feature map to this width (0 = keep the channels)
    cell: str = "lstm"                 # decoder cell, a key of seqkeras.cells.CELLS
    cell_options: dict = dataclasses.field(default_factory=dict)
    units: int = 512
    layers: int = 1
    attention: str = "luong"           # "bahdanau" | "luong" | "none"
    luong_score: str = "general"       # "general" | "dot" (needs units == memory width)
    attention_units: int = 0           # additive score width (0 = units)
    embedding_dim: int = 256
    dropout: float = 0.3               # on the word embeddings, o_t and the pooled image vector
    tie_embeddings: bool = False


@dataclasses.dataclass
class DecodingSpec:
    """Decoding used by evaluation and as the exported model's defaults."""

    beam_width: int = 3
    length_penalty: float = 0.0        # GNMT α; 0 = raw Σ log p
    max_length: int = 25               # tokens per caption, <eos> included
    batch_size: int = 100              # images per decoding batch in evaluation


@dataclasses.dataclass
class ServingSpec:
    """Limits of the exported model."""

    max_beam_width: int = 16           # caption_beam clamps beam_width to this
    max_length_cap: int = 64           # caption_beam clamps max_length to this
    max_image_pixels: int = 4096 * 4096  # larger images (read from their header) are refused, not decoded


@dataclasses.dataclass
class EvaluationSpec:
    """What `evaluate` adds to the model's BLEU."""

    baselines: bool = True             # constant caption and nearest-neighbour retrieval
    constant_candidates: int = 0       # training captions tried as the constant answer (0 = all)
    examples: int = 12                 # images on the examples page (examples.html in the run directory)


@dataclasses.dataclass
class CaptionTrainingSpec(TrainingSpec):
    """`TrainingSpec` plus label smoothing; ``batch_size`` counts images (× K captions)."""

    label_smoothing: float = 0.1
    batch_size: int = 32
    clip_norm: float = 5.0


@dataclasses.dataclass
class CaptionTuningSpec(TuningSpec):
    """`TuningSpec` whose default space is cell, units, attention, encoder width, dropout
    and learning rate (data keys are not tuned: batches are built once)."""

    space: dict = dataclasses.field(default_factory=lambda: {
        "model.cell": ["lstm", "gru"],
        "model.units": [256, 512],
        "model.attention": ["luong", "bahdanau", "none"],
        "model.encoder_width": [24, 32, 48],
        "model.dropout": [0.2, 0.3, 0.5],
        "training.learning_rate": {"min": 3e-4, "max": 3e-3, "sampling": "log"},
    })


@dataclasses.dataclass
class Spec(PipelineSpec):
    """An image-captioning pipeline."""

    # A caption's length is decoding.max_length / serving.max_length_cap, not a token limit.
    unsupported_keys = ("export.max_tokens",)

    application: str = "captioning"
    data: DataSpec = dataclasses.field(default_factory=DataSpec)
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    decoding: DecodingSpec = dataclasses.field(default_factory=DecodingSpec)
    serving: ServingSpec = dataclasses.field(default_factory=ServingSpec)
    evaluation: EvaluationSpec = dataclasses.field(default_factory=EvaluationSpec)
    training: CaptionTrainingSpec = dataclasses.field(default_factory=CaptionTrainingSpec)
    tuning: CaptionTuningSpec = dataclasses.field(default_factory=CaptionTuningSpec)
    evaluate_limit: int = 0            # caption only the first N validation images (0 = all)
    samples: int = 3                   # captions printed after `seqkeras run`

    def validate(self) -> None:
        super().validate()
        d, m, dec, s = self.data, self.model, self.decoding, self.serving
        self.check_choices([
            ("model.attention", m.attention, ATTENTIONS),
            ("model.luong_score", m.luong_score, LUONG_SCORES),
        ])
        self.check_cells("model.cell")
        self.check_at_least(16, "data.image_size")
        self.check_at_least(1, "data.captions_per_image", "data.min_count", "data.max_length",
                            "model.encoder_width", "model.encoder_blocks", "model.encoder_convs", "model.units",
                            "model.layers", "model.embedding_dim", "decoding.beam_width", "decoding.max_length",
                            "decoding.batch_size", "serving.max_beam_width", "serving.max_length_cap",
                            "serving.max_image_pixels")
        self.check_at_least(0, "data.crop_padding", "model.memory_dim", "model.attention_units",
                            "decoding.length_penalty", "evaluation.constant_candidates", "evaluation.examples",
                            "evaluate_limit", "samples")
        self.check_fraction("model.dropout", "training.label_smoothing")
        if not d.train_splits or not all(isinstance(x, str) and x for x in d.train_splits):
            raise SpecError(self.source, "data.train_splits", f"must be a non-empty list of split names, "
                            f"received {d.train_splits!r}")
        if d.validation_split in d.train_splits:
            raise SpecError(self.source, "data.validation_split",
                            f"{d.validation_split!r} is also a training split {d.train_splits}")
        if 2 ** m.encoder_blocks > d.image_size and m.encoder == "cnn":
            raise SpecError(self.source, "model.encoder_blocks", f"{m.encoder_blocks} blocks halve a "
                            f"{d.image_size}-pixel image below one pixel")
        if dec.beam_width > s.max_beam_width:
            raise SpecError(self.source, "decoding.beam_width", f"must be ≤ serving.max_beam_width "
                            f"({s.max_beam_width})")
        if dec.max_length > s.max_length_cap:
            raise SpecError(self.source, "decoding.max_length", f"must be ≤ serving.max_length_cap "
                            f"({s.max_length_cap})")
