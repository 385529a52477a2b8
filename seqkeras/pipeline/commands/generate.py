"""`seqkeras generate TARGET`: text from a language model.

TARGET is a SavedModel version directory, a model directory
(``saved_models/<name>``: its highest version), or a pipeline spec (``.toml``: its
run directory's trained weights, sampled in Python).
"""

from __future__ import annotations

import pathlib

from seqkeras.pipeline.commands.common import load_run


def configure(parser):
    parser.add_argument("target", help="saved_models/<name>[/<version>] or a pipeline .toml")
    parser.add_argument("--prompt", action="append", default=None, help="prompt text (repeatable)")
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.8, help="≤ 0: greedy")
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--beam-width", type=int, default=0, help="> 0: beam search (SavedModel only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--work-dir", default="runs")


def resolve_saved_model(target: str | pathlib.Path) -> pathlib.Path:
    """A version directory, or the highest integer version under a model directory."""
    path = pathlib.Path(target)
    if (path / "saved_model.pb").is_file():
        return path
    versions = sorted((int(p.name), p) for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").is_file())
    if not versions:
        raise SystemExit(f"error: no SavedModel at {path} (expected saved_model.pb or integer version folders)")
    return versions[-1][1]


def main(args):
    import tensorflow as tf

    prompts = args.prompt or [""]
    if str(args.target).endswith(".toml"):
        from seqkeras.language_model import sample_text
        from seqkeras.pipeline import runner

        args.pipeline, args.overrides = args.target, []
        spec, data, paths = load_run(args)
        if spec.application != "language_model":
            raise SystemExit(f"error: `seqkeras generate` samples language models; {args.target} is a "
                             f"{spec.application!r} pipeline")
        model = runner.load_trained(spec, data, paths)
        for prompt in prompts:
            print(sample_text(model, data.tokenizer, prompt, args.max_tokens, max(args.temperature, 1e-6),
                              args.top_k, args.seed))
        return 0
    loaded = tf.saved_model.load(str(resolve_saved_model(args.target)))
    prompt = tf.constant(prompts)
    if args.beam_width > 0:
        out = loaded.signatures["generate_beam"](prompt=prompt, max_new_tokens=tf.constant(args.max_tokens),
                                                 beam_width=tf.constant(args.beam_width))
    else:
        out = loaded.signatures["generate"](prompt=prompt, max_new_tokens=tf.constant(args.max_tokens),
                                            temperature=tf.constant(args.temperature, tf.float32),
                                            top_k=tf.constant(args.top_k), top_p=tf.constant(args.top_p, tf.float32),
                                            seed=tf.constant(args.seed))
    for p, text in zip(prompts, out["text"].numpy()):
        print(p + text.decode("utf-8"))
    return 0
