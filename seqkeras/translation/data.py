"""Translation data: parallel lines → WordPiece vocabularies (training split) → batches.

Both sides are split into words on whitespace, then into WordPiece subwords learned
on the training split only (`seqkeras.data.SubwordTokenizer`); ``vocabulary =
"shared"`` learns one vocabulary from both sides. Every vocabulary reserves
``<pad>`` = 0, ``<unk>`` = 1, ``<bos>`` = 2, ``<eos>`` = 3. Detokenizing joins the
pieces, so a translation comes out as raw, whitespace-separated text (the form of
the references that sacrebleu scores against).
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib

import tensorflow as tf

from seqkeras.data import SubwordTokenizer, Vocabulary, load_or_fit, parallel_lines, resolve_path, seq2seq_batches
from seqkeras.data.vocabulary import BOS, EOS, PAD, UNK
from seqkeras.pipeline.data import Data
from seqkeras.pipeline.run_paths import VOCABULARY_FILE
from seqkeras.pipeline.spec import SpecError

RESERVED = (PAD, UNK, BOS, EOS)


@dataclasses.dataclass(kw_only=True)
class TranslationData(Data):
    """`Data` plus the two tokenizers and the raw validation sentences.

    Attributes:
        source_tokenizer, target_tokenizer: `SubwordTokenizer`s (the same object
            for a shared vocabulary).
        source_vocabulary_size, target_vocabulary_size: entries, reserved included.
        validation_pairs: number of validation sentence pairs.
        validation_sources, validation_references: the raw validation lines.
        hypotheses: the last `evaluate`'s translations of the validation sources,
            ``{"greedy": [...], "beam": [...]}`` (empty before evaluation).
    """

    source_tokenizer: SubwordTokenizer
    target_tokenizer: SubwordTokenizer
    source_vocabulary_size: int
    target_vocabulary_size: int
    validation_pairs: int
    validation_sources: list[str]
    validation_references: list[str]
    hypotheses: dict[str, list[str]] = dataclasses.field(default_factory=dict)


def _tokenizer(spec, vocabulary: Vocabulary | None = None) -> SubwordTokenizer:
    return SubwordTokenizer(vocabulary, lowercase=spec.data.lowercase)


def train_tokenizers(spec, pairs: tf.data.Dataset) -> tuple[SubwordTokenizer, SubwordTokenizer]:
    """Learn the source and target WordPiece vocabularies from the training pairs."""
    d = spec.data
    if d.vocabulary == "shared":
        both = pairs.map(lambda s, t: s).concatenate(pairs.map(lambda s, t: t))
        shared = SubwordTokenizer.train(both, d.source_vocab_size, lowercase=d.lowercase, reserved=RESERVED)
        return shared, shared
    source = SubwordTokenizer.train(pairs.map(lambda s, t: s), d.source_vocab_size, lowercase=d.lowercase,
                                    reserved=RESERVED)
    target = SubwordTokenizer.train(pairs.map(lambda s, t: t), d.target_vocab_size, lowercase=d.lowercase,
                                    reserved=RESERVED)
    return source, target


def vocabulary_paths(spec, vocabulary_path) -> tuple[pathlib.Path, pathlib.Path]:
    """(source, target) vocabulary files: ``vocabulary.txt`` is the target's (and the
    shared one); the source's is ``vocabulary.source.txt`` beside it."""
    target = pathlib.Path(vocabulary_path)
    source = target if spec.data.vocabulary == "shared" else target.with_name(target.stem + ".source" + target.suffix)
    return source, target


def read_pairs(source_path, target_path) -> tuple[list[str], list[str]]:
    """All lines of two parallel files as Python strings (invalid UTF-8 replaced)."""
    sources, targets = [], []
    for s, t in parallel_lines(source_path, target_path).batch(4096).as_numpy_iterator():
        sources += [x.decode("utf-8") for x in s]
        targets += [x.decode("utf-8") for x in t]
    return sources, targets


def build_data(spec, data_dir=None, run_dir: pathlib.Path | None = None) -> TranslationData:
    """Read the parallel corpus, learn (or load) the subword vocabularies, batch.

    Args:
        spec: a `seqkeras.translation.Spec`.
        data_dir: the data directory (``--data-dir``).
        run_dir: the run directory; the target vocabulary is ``vocabulary.txt`` there
            (the source's sits beside it, see `vocabulary_paths`), each loaded when
            present (else learned and saved there) so that evaluation and export use
            the training run's ids. None = learn the vocabularies and do not save them.

    Returns:
        `TranslationData`: ``train`` / ``validation`` teacher-forcing batches
        ``((source int64[B, S], target_in int64[B, T]), target_out int64[B, T])``,
        0-padded, the tokenizers and the raw validation sentences.

    Raises:
        SpecError: the validation files are not set.
    """
    d, t = spec.data, spec.training
    for key in ("validation_source", "validation_target"):
        if not getattr(d, key):
            raise SpecError(spec.source, f"data.{key}", "is empty: name a held-out parallel pair "
                            "(data.validation_source and data.validation_target) for validation and BLEU")
    train_pairs = parallel_lines(resolve_path(d.train_source, data_dir), resolve_path(d.train_target, data_dir))
    validation_source = resolve_path(d.validation_source, data_dir)
    validation_target = resolve_path(d.validation_target, data_dir)
    validation_pairs = parallel_lines(validation_source, validation_target)

    source_file = target_file = None
    if run_dir is not None:
        source_file, target_file = vocabulary_paths(spec, pathlib.Path(run_dir) / VOCABULARY_FILE)
    trained = functools.cache(lambda: train_tokenizers(spec, train_pairs))  # learned at most once
    target_tok = _tokenizer(spec, load_or_fit(target_file, lambda: trained()[1].vocabulary))
    source_tok = target_tok if d.vocabulary == "shared" else _tokenizer(
        spec, load_or_fit(source_file, lambda: trained()[0].vocabulary))

    train = seq2seq_batches(train_pairs, source_tok, target_tok, t.batch_size, max_length=d.max_length,
                            pool_batches=d.bucket_pool or None, shuffle_buffer=d.shuffle_buffer, seed=t.seed,
                            cache=True)
    if t.steps_per_epoch:
        train = train.repeat()
    validation = seq2seq_batches(validation_pairs, source_tok, target_tok, t.batch_size,
                                 pool_batches=d.bucket_pool or None, cache=True)
    sources, references = read_pairs(validation_source, validation_target)
    return TranslationData(train=train, validation=validation, source_tokenizer=source_tok,
                           target_tokenizer=target_tok, source_vocabulary_size=len(source_tok.vocabulary),
                           target_vocabulary_size=len(target_tok.vocabulary), validation_pairs=len(sources),
                           validation_sources=sources, validation_references=references)
