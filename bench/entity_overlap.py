"""How many validation entities a NER corpus's training split already names.

A tagger without pretrained embeddings or outside text must type a name it never saw in
training from its characters and context alone; the share of validation entity mentions
whose exact string is a training entity bounds what memory can do. Printed per spec:
validation mentions, the share whose string is a training entity, how often those
carry the type the training split gives that string most often (label consistency),
and the training strings seen more than once under more than one type.

Reproduce (about a minute):

    python bench/entity_overlap.py --data-dir ../shared/data

Measured 2026-12-04: CoNLL-2003 testa 5,942 mentions, 68.0 % named in training;
WikiANN dev 14,146 mentions, 19.9 % named in training (96.6 % of those with the
training type).
"""

from __future__ import annotations

import argparse
import collections
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from seqkeras.data import resolve_path  # noqa: E402
from seqkeras.pipeline import load_spec  # noqa: E402
from seqkeras.tagging.data import read_sentences  # noqa: E402
from seqkeras.tagging.schemes import chunks  # noqa: E402

PIPELINES = pathlib.Path(__file__).resolve().parent.parent / "pipelines"
SPECS = ["conll2003_ner.toml", "wikiann_ner.toml"]


def mentions(path, data):
    """Yield ``(entity string, type)`` for every chunk of a column file, streamed."""
    for sentence in read_sentences(path, data.format, data.token_column, data.tag_column,
                                   data.tag_format, "iob2").as_numpy_iterator():
        tokens = [t.decode("utf-8") for t in sentence["tokens"]]
        for kind, first, last in chunks([t.decode("utf-8") for t in sentence["tags"]]):
            yield " ".join(tokens[first:last + 1]), kind


def overlap(spec, data_dir) -> dict:
    """Counts for one spec's train / validation files (see the module docstring)."""
    d = spec.data
    train = collections.defaultdict(collections.Counter)
    for text, kind in mentions(resolve_path(d.train, data_dir), d):
        train[text][kind] += 1
    total = named = same_type = 0
    for text, kind in mentions(resolve_path(d.validation, data_dir), d):
        total += 1
        if text in train:
            named += 1
            same_type += train[text].most_common(1)[0][0] == kind
    repeated = [types for types in train.values() if sum(types.values()) > 1]
    return {"mentions": total, "named": named / total, "same_type": same_type / max(named, 1),
            "repeated": len(repeated), "mixed": sum(len(types) > 1 for types in repeated)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="the data directory (default: $SEQKERAS_DATA)")
    parser.add_argument("specs", nargs="*", default=[str(PIPELINES / s) for s in SPECS])
    args = parser.parse_args(argv)
    print(f"{'spec':<16} {'val mentions':>12} {'named in train':>15} {'same type':>10} {'train strings >1x (mixed type)':>31}")
    for path in args.specs:
        spec = load_spec(path)
        r = overlap(spec, args.data_dir)
        print(f"{spec.name:<16} {r['mentions']:>12,} {r['named']:>15.1%} {r['same_type']:>10.1%}"
              f" {r['repeated']:>22,} ({r['mixed']:,})")


if __name__ == "__main__":
    main()
