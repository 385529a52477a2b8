"""Distributed keras-tuner searches: keras-tuner's own chief oracle and workers.

keras-tuner distributes a search when every process runs the same search with
``KERASTUNER_TUNER_ID`` (``chief``, ``tuner0``, ``tuner1``, …), ``KERASTUNER_ORACLE_IP``
and ``KERASTUNER_ORACLE_PORT`` set: the chief serves the oracle over gRPC and runs no
trial; each worker asks it for a trial, trains it, reports the result, and stops when
the oracle says the search is over. All processes share the tuner directory (the run
directory must be on a file system every host sees).

* `oracle_environment`: the variables for one process of a multi-host search
  (``seqkeras tune PIPELINE --chief HOST:PORT --worker-id chief|tuner0|…``).
* `LocalSearch`: ``seqkeras tune PIPELINE --workers N``: the chief and N workers as local
  processes, each worker with its own share of the devices (its own GPU where there
  are several, else 1/N of the CPU threads), their output streamed into one display
  with a ``[worker]`` prefix. The chief writes the same summary table, PNG and best
  values as a single-process search.

Failure handling (keras-tuner's known weak points, handled here for local searches):

* a worker killed mid-trial: the chief would wait for it forever (the oracle keeps the
  trial ongoing under that worker's ID). `LocalSearch` restarts the worker under the
  same ID; the oracle hands it the same trial again, which is rerun. After
  ``max_restarts`` deaths the search stops with an error naming the worker.
* the chief killed: keras-tuner 1.4's oracle does not survive a chief restart in the
  middle of a search: the restarted chief reloads the completed trials, but the worker
  that reports the interrupted trial gets an error (``EndTrial``: "Exception calling
  application"), and after the worker's rerun the chief never sees the search end (it
  waits for an ongoing trial forever; measured on localhost). So `LocalSearch` does not
  restart a dead chief: it stops the workers and exits with an error; the completed
  trials stay on disk.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

CHIEF = "chief"


def parse_chief(address: str) -> tuple[str, int]:
    """``"HOST:PORT"`` → (host, port); ValueError naming the problem."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--chief expects HOST:PORT (e.g. 10.0.0.5:8000), received {address!r}")
    return host, int(port)


def oracle_environment(chief: str, worker_id: str) -> dict[str, str]:
    """The keras-tuner variables for one process of a distributed search.

    Args:
        chief: ``HOST:PORT`` where the chief serves the oracle (the chief binds it).
        worker_id: ``"chief"`` or a worker's ID (``tuner0``, ``tuner1``, …; unique).
    """
    host, port = parse_chief(chief)
    if not worker_id or any(c.isspace() for c in worker_id):
        raise ValueError(f"--worker-id must be a non-empty name without spaces, received {worker_id!r}")
    if worker_id != CHIEF and CHIEF in worker_id:
        raise ValueError(f"--worker-id {worker_id!r}: keras-tuner treats any ID containing 'chief' as the chief; "
                         f"name workers tuner0, tuner1, …")
    return {"KERASTUNER_TUNER_ID": worker_id, "KERASTUNER_ORACLE_IP": host, "KERASTUNER_ORACLE_PORT": str(port)}


def role() -> str | None:
    """``"chief"``, ``"worker"``, or None when this process is not part of a distributed search."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    return CHIEF if CHIEF in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def device_environment(index: int, workers: int) -> dict[str, str]:
    """Worker `index`'s share of the machine: its own GPU where there are ≥ `workers`
    GPUs, otherwise no GPU and ⌊cores / workers⌋ (≥ 1) CPU threads."""
    gpus = _gpu_count()
    if gpus >= workers:
        return {"CUDA_VISIBLE_DEVICES": str(index)}
    threads = max(1, (os.cpu_count() or 1) // workers)
    return {"CUDA_VISIBLE_DEVICES": "", "TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": "1",
            "OMP_NUM_THREADS": str(threads)}


def _gpu_count() -> int:
    try:
        done = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(line.startswith("GPU ") for line in done.stdout.splitlines()) if done.returncode == 0 else 0


class LocalSearch:
    """The chief and `workers` workers of one search as local processes.

    Args:
        tune_args: the ``seqkeras tune`` arguments every process gets (pipeline,
            ``--data-dir``, ``--work-dir``, ``--set``…), without the distribution flags.
        workers: N ≥ 1.
        max_restarts: how many times one process may die and be restarted.
        output: where the prefixed lines go (default: stdout).
    """

    def __init__(self, tune_args: list[str], workers: int, max_restarts: int = 3, output=None, port: int = 0):
        if workers < 1:
            raise ValueError(f"--workers must be ≥ 1, received {workers}")
        self.tune_args = list(tune_args)
        self.workers = workers
        self.max_restarts = max_restarts
        self.output = output or sys.stdout
        self.chief_address = f"127.0.0.1:{port or free_port()}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, int] = {}
        self._print_lock = threading.Lock()

    def ids(self) -> list[str]:
        return [CHIEF] + [f"tuner{i}" for i in range(self.workers)]

    def start(self, worker_id: str) -> subprocess.Popen:
        env = dict(os.environ, PYTHONUNBUFFERED="1", **oracle_environment(self.chief_address, worker_id))
        if worker_id != CHIEF:
            env.update(device_environment(int(worker_id.removeprefix("tuner")), self.workers))
        else:
            env.update({"CUDA_VISIBLE_DEVICES": "", "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"})
        command = [sys.executable, "-m", "seqkeras.cli", "tune", *self.tune_args]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   errors="replace")
        threading.Thread(target=self._stream, args=(worker_id, process), daemon=True).start()
        self.processes[worker_id] = process
        return process

    def _stream(self, worker_id: str, process: subprocess.Popen) -> None:
        for line in process.stdout:
            with self._print_lock:
                self.output.write(f"[{worker_id}] {line}")
                self.output.flush()

    def run(self, poll_seconds: float = 0.5) -> int:
        """Start every process, restart those that die, return the chief's exit code
        (0: the search finished and the chief wrote the summary)."""
        self.start(CHIEF)
        time.sleep(1.0)  # let the chief bind its port before workers dial it (they retry anyway)
        for worker_id in self.ids()[1:]:
            self.start(worker_id)
        try:
            while True:
                time.sleep(poll_seconds)
                chief = self.processes[CHIEF]
                if chief.poll() == 0:
                    return 0
                if chief.poll() is not None:
                    self._say(f"the chief exited with code {chief.returncode}: stopping the workers (keras-tuner "
                              f"cannot resume a search whose chief died mid-search; completed trials are kept)")
                    return 1
                for worker_id, process in list(self.processes.items()):
                    code = process.poll()
                    if code is None or code == 0:
                        continue
                    self.restarts[worker_id] = self.restarts.get(worker_id, 0) + 1
                    if self.restarts[worker_id] > self.max_restarts:
                        self._say(f"{worker_id} died {self.restarts[worker_id]} times (last exit code {code}); "
                                  f"stopping the search (it resumes where it stopped: run the command again)")
                        return 1
                    self._say(f"{worker_id} exited with code {code}: restarting it under the same ID "
                              f"({self.restarts[worker_id]}/{self.max_restarts}); its trial is rerun")
                    self.start(worker_id)
        finally:
            self.stop()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def _say(self, message: str) -> None:
        with self._print_lock:
            self.output.write(f"[seqkeras] {message}\n")
            self.output.flush()
