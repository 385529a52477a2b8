"""Fault injection on a real pipeline: SIGKILL `seqkeras train` and `seqkeras export` at
random moments, many times, and check that every restart resumes correctly.

    python bench/fault_injection.py pipelines/shakespeare_char_lm.toml --data-dir ../shared/data \\
        --train-kills 15 --export-kills 10

1. A reference `seqkeras train`, uninterrupted, in its own work directory (its wall time
   T and its start-up time S, until the first epoch, set the kill times).
2. The same training, killed `--train-kills` times, each 0.7 … 1 × S plus a uniform
   random 0 … 2(T − S)/kills seconds after its (re)start, then left to finish. Where each kill landed is read from
   the run directory: before the first epoch of that attempt ("start-up"), inside an
   atomic write (a temporary was left), or elsewhere in an epoch or its evaluation.
   A restart resumed correctly when its first epoch is the epoch after the last one
   backed up before the kill, the history has one row per finished epoch, and every
   checkpoint on disk opens. The finished run is compared with the reference.
3. `seqkeras export` killed `--export-kills` times, each at a uniform random 5 … 95 % of
   one export's wall time (a kill that comes too late is counted as no kill), each followed by a
   check that the model's directory holds only complete versions; then one export runs
   to the end and its version number is the next one.

Prints a table per phase; every "resumed correctly" figure must equal the kills.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import pathlib
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

import h5py

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from harness import markdown_table, versions  # noqa: E402

from seqkeras.quiet import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

from seqkeras.pipeline.resume import STATE_FILE, TEMP_PREFIX  # noqa: E402
from seqkeras.serving import list_versions  # noqa: E402

EPOCH_LINE = re.compile(r"^Epoch (\d+)/(\d+)", re.MULTILINE)


def seqkeras(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "seqkeras.cli", *arguments]


def start(command: list[str], log: pathlib.Path) -> subprocess.Popen:
    stream = log.open("w")
    return subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


def backed_up_epochs(run: pathlib.Path) -> int:
    state = run / "backup" / STATE_FILE
    return json.loads(state.read_text())["epoch"] if state.is_file() else 0


def history_epochs(run: pathlib.Path) -> list[int]:
    history = run / "history.csv"
    if not history.is_file():
        return []
    return [int(row["epoch"]) for row in csv.DictReader(history.open())]


def checkpoints_open(run: pathlib.Path) -> bool:
    for path in (run / "checkpoints").glob("epoch_*.weights.h5"):
        try:
            with h5py.File(path, "r"):
                pass
        except OSError:
            return False
    return True


def validation_metrics(log_text: str) -> dict:
    report = json.loads(log_text[log_text.index("{"):])
    return report.get("validation", report)


def kill_training(spec: str, common: list[str], work: pathlib.Path, name: str, kills: int, startup_seconds: float,
                  reference_seconds: float, rng: random.Random, logs: pathlib.Path) -> list[dict]:
    """Start a training `kills` + 1 times, killing all but the last; one record per attempt:
    the epochs backed up when it started, the epoch it began at, and where it was killed.

    Each kill comes 0.7 … 1 × the start-up time (until the first epoch) plus a uniform
    0 … 2 × (training time) / kills after the start: some land in the start-up, the
    rest spread over the run's epochs, checkpoint writes and evaluations."""
    run = work / name
    attempts = []
    for attempt in range(kills + 1):
        record = {"attempt": attempt, "backed_up": backed_up_epochs(run), "log": logs / f"train_{attempt:02d}.log"}
        attempts.append(record)
        process = start(seqkeras("train", spec, *common, "--work-dir", str(work)), record["log"])
        record["delay_s"] = (rng.uniform(0.7, 1.0) * startup_seconds
                             + rng.uniform(0.0, 2.0 * (reference_seconds - startup_seconds) / kills)
                             if attempt < kills else None)
        started = time.time()
        while (record["delay_s"] is None or time.time() - started < record["delay_s"]) and process.poll() is None:
            time.sleep(0.02)
        record["killed"] = process.poll() is None
        if record["killed"]:
            process.send_signal(signal.SIGKILL)
        process.wait()
        record["returncode"] = process.returncode
        first = EPOCH_LINE.search(record["log"].read_text(errors="replace"))
        record["began_at"] = int(first.group(1)) - 1 if first else None
        if record["killed"]:
            if run.is_dir() and list(run.rglob(f"{TEMP_PREFIX}*")):
                record["point"] = "inside an atomic write"
            elif first is None:
                record["point"] = "start-up"
            else:
                record["point"] = "in an epoch or its evaluation"
        if not record["killed"]:
            break
    return attempts


def resumed_correctly(attempts: list[dict], run: pathlib.Path, epochs: int) -> bool:
    """Mark each killed attempt: the next attempt began at the epoch the backup held (or
    was killed before it printed one). Returns whether the finished run is whole: exit 0,
    one history row per epoch, every checkpoint opens, no backup or temporary left."""
    for record, following in zip(attempts, attempts[1:]):
        record["ok"] = following["began_at"] in (None, following["backed_up"]) \
            and following["backed_up"] >= record["backed_up"]
    last = attempts[-1]
    return (not last["killed"] and last["returncode"] == 0 and last["began_at"] in (None, last["backed_up"])
            and history_epochs(run) == list(range(epochs)) and checkpoints_open(run)
            and not (run / "backup").exists() and not list(run.rglob(f"{TEMP_PREFIX}*")))


def complete_versions(model_dir: pathlib.Path) -> tuple[list[int], list[str]]:
    """(complete version numbers, names of anything else that is not hidden)."""
    versions_found = list_versions(model_dir)
    partial = [p.name for p in model_dir.iterdir() if not p.name.startswith(".")
               and not (p.name.isdigit() and (p / "saved_model.pb").is_file()
                        and (p / "variables" / "variables.index").is_file())] if model_dir.is_dir() else []
    return versions_found, partial


def kill_exports(spec: str, common: list[str], work: pathlib.Path, name: str, kills: int,
                 rng: random.Random, logs: pathlib.Path) -> tuple[list[dict], float]:
    output = work / "saved_models"
    started = time.time()
    done = subprocess.run(seqkeras("export", spec, *common, "--work-dir", str(work), "--output", str(output)),
                          capture_output=True, text=True)
    export_seconds = time.time() - started
    if done.returncode != 0:
        raise SystemExit(f"export failed:\n{done.stderr[-3000:]}")
    model_dir = output / name
    rows = []
    for attempt in range(kills):
        before, _ = complete_versions(model_dir)
        process = start(seqkeras("export", spec, *common, "--work-dir", str(work), "--output", str(output)),
                        logs / f"export_{attempt:02d}.log")
        delay = rng.uniform(0.05, 0.95) * export_seconds
        time.sleep(delay)
        killed = process.poll() is None
        if killed:
            process.send_signal(signal.SIGKILL)
        process.wait()
        after, partial = complete_versions(model_dir)
        expected = before if killed else before + [max(before) + 1]
        rows.append({"attempt": attempt, "delay_s": round(delay, 1), "killed": killed,
                     "hidden temporaries": len([p for p in model_dir.iterdir() if p.name.startswith(".")]),
                     "ok": after == expected and not partial})
    done = subprocess.run(seqkeras("export", spec, *common, "--work-dir", str(work), "--output", str(output)),
                          capture_output=True, text=True)
    final, partial = complete_versions(model_dir)
    rows.append({"attempt": "final", "killed": False, "ok": done.returncode == 0 and not partial
                 and final == list(range(1, len(final) + 1))})
    return rows, export_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--train-kills", type=int, default=15)
    parser.add_argument("--export-kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default=None, help="scratch directory (default: a new temporary one)")
    args = parser.parse_args()

    from seqkeras.pipeline import load_spec

    spec = load_spec(args.pipeline)
    common = (["--data-dir", args.data_dir] if args.data_dir else []) + [f"--set={s}" for s in args.set]
    overrides = dict(s.split("=", 1) for s in args.set)
    epochs = int(overrides.get("training.epochs", spec.training.epochs))
    work = pathlib.Path(args.work or tempfile.mkdtemp(prefix="fault_injection_"))
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)

    started = time.time()
    reference_log = logs / "reference.log"
    process = start(seqkeras("train", args.pipeline, *common, "--work-dir", str(work / "reference")), reference_log)
    startup_seconds = None
    while process.poll() is None:
        if startup_seconds is None and EPOCH_LINE.search(reference_log.read_text(errors="replace")):
            startup_seconds = time.time() - started
        time.sleep(0.05)
    reference_seconds = time.time() - started
    if process.returncode != 0:
        raise SystemExit(f"reference run failed: see {reference_log}")

    started = time.time()
    attempts = kill_training(args.pipeline, common, work / "killed", spec.name, args.train_kills,
                             startup_seconds or reference_seconds, reference_seconds, rng, logs)
    killed_seconds = time.time() - started
    run_ok = resumed_correctly(attempts, work / "killed" / spec.name, epochs)
    kills = [a for a in attempts if a["killed"]]
    by_point = collections.Counter(a["point"] for a in kills)
    resumed = sum(a["ok"] for a in kills)

    export_rows, export_seconds = kill_exports(args.pipeline, common, work / "killed", spec.name,
                                               args.export_kills, rng, logs)
    export_kills = [r for r in export_rows if r["killed"]]

    print(f"# Fault injection: {spec.name} ({epochs} epochs)\n")
    print(json.dumps(versions(["h5py"])))
    print(f"\nscratch: {work}\n")
    print(markdown_table(["attempt", "killed after (s)", "where", "epochs backed up at the kill",
                          "restart began at epoch", "resumed correctly"],
                         [[a["attempt"], round(a["delay_s"], 1), a["point"], following["backed_up"],
                           "—" if following["began_at"] is None else following["began_at"], "yes" if a["ok"] else "NO"]
                          for a, following in zip(attempts, attempts[1:])]))
    reference_metrics = validation_metrics(reference_log.read_text(errors="replace"))
    final_metrics = validation_metrics(attempts[-1]["log"].read_text(errors="replace"))
    names = sorted(reference_metrics)
    print()
    print(markdown_table(["run", "wall time (s)", *names],
                         [["uninterrupted", round(reference_seconds), *[reference_metrics[k] for k in names]],
                          [f"killed {len(kills)} times", round(killed_seconds), *[final_metrics.get(k) for k in names]]]))
    print(f"\ntraining: {len(kills)} kills ({', '.join(f'{n} {p}' for p, n in by_point.items())}); "
          f"resumed correctly: {resumed} of {len(kills)}; final run complete and clean: {run_ok}")
    print(f"export: one export takes {export_seconds:.1f} s; {len(export_kills)} kills during an export; "
          f"left only complete versions: {sum(r['ok'] for r in export_rows[:-1])} of {len(export_rows) - 1}; "
          f"the final export completed with the next version: {export_rows[-1]['ok']}")


if __name__ == "__main__":
    main()
