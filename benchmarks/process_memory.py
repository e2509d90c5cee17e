"""Memory of a process and its workers over time, for the benchmarks (imported by them, not run)."""

from __future__ import annotations

import threading

import psutil


class TreeMemory:
    """Samples the PSS (shared pages split among their sharers, so forked workers are not counted twice)
    of `process` and its children every `interval` seconds, in MiB, until stopped."""

    def __init__(self, process: psutil.Process, interval: float):
        self.process, self.interval, self.samples = process, interval, []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    @property
    def peak(self) -> float:
        return max(self.samples, default=0.0)

    def _sample(self) -> None:
        while not self._done.is_set():
            total = 0
            try:
                tree = [self.process, *self.process.children(recursive=True)]
            except psutil.NoSuchProcess:
                tree = []
            for proc in tree:
                try:
                    total += proc.memory_full_info().pss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass  # a worker that ended between the listing and the reading
            if total:
                self.samples.append(total / 2**20)
            self._done.wait(self.interval)
