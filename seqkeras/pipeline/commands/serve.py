"""`seqkeras serve BASE_PATH`: TensorFlow Serving's REST API over a base path of exports, locally.

Every model under BASE_PATH (``saved_models/<name>/<version>/``) is served at its highest
version, and a new version is picked up while serving (`seqkeras.serving.rest`)::

    seqkeras serve saved_models/ --port 8501
    curl -d '{"instances": ["a fine film"]}' localhost:8501/v1/models/sst2_sentiment:predict
"""

from __future__ import annotations


def configure(parser):
    parser.add_argument("base_path", help="the directory holding <model name>/<integer version>/ exports")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: every one)")
    parser.add_argument("--port", type=int, default=8501, help="HTTP port (TensorFlow Serving's REST default)")
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="how often to look for new versions")


def main(args):
    import logging
    import pathlib

    from seqkeras.serving.rest import serve

    if not pathlib.Path(args.base_path).is_dir():
        raise SystemExit(f"error: {args.base_path}: no such directory (it should hold <name>/<version>/ exports)")
    if args.poll_seconds <= 0:
        raise SystemExit(f"error: --poll-seconds must be > 0, received {args.poll_seconds}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    print(f"serving {args.base_path} on http://{args.host}:{args.port}/v1/models/<name> (Ctrl-C stops)", flush=True)
    serve(args.base_path, args.host, args.port, args.poll_seconds)
    return 0
