"""Streaming continued pretraining: peak memory over a corpus larger than memory against a small one.

    .venv/bin/python -u benchmarks/streaming_memory.py [--big-gb 2.2] [--small-mb 8] [--max-steps 30]
        [--max-seq-length 256] [--batch-size 2] [--keep-corpus DIR] [--json PATH]

Writes two plain-text corpora (`.txt`, lines of about 2 KB of words; deleted at the end unless
--keep-corpus names a folder to keep them in and reuse), then runs, each in a fresh process,
`knowtune train` on the shipped model with LoRA, `data.streaming: true` and the same `max_steps`,
once per corpus. The process tree's memory (PSS: shared pages split among their sharers, so workers
are not counted twice) is sampled every 0.5 s. Reported per corpus: the wall time, the peak, and
the peak over the first and the second half of the run's samples: flat memory means the big corpus
peaks where the small one does (ratio about 1) and the second half peaks where the first does.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from data_prep import WORDS
from process_memory import TreeMemory



def write_corpus(path: Path, size: int) -> int:
    """About `size` bytes of text; returns the bytes written."""
    if path.is_file() and path.stat().st_size >= size:
        return path.stat().st_size
    rng, written = random.Random(size), 0
    with path.open("w", encoding="utf-8") as file:
        while written < size:
            block = "".join(" ".join(rng.choices(WORDS, k=300)) + ".\n" for _ in range(512))
            file.write(block)
            written += len(block)
    return written


def train(corpus: Path, out: Path, max_steps: int, max_seq_length: int, batch_size: int) -> dict:
    command = [sys.executable, "-m", "knowtune.cli", "train", "model=smollm2-135m-instruct", "method=lora",
               f"data.train={corpus}", "data.streaming=true", f"data.max_seq_length={max_seq_length}",
               f"training.max_steps={max_steps}", f"training.per_device_train_batch_size={batch_size}",
               "training.learning_rate=1e-4", "training.logging_steps=10", "training.save_steps=100000",
               f"base_output_dir={out.parent}", f"experiment_name={out.name}", "--overwrite"]
    start = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with TreeMemory(process, 0.5) as memory:
        _, err = process.communicate()
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"knowtune train on {corpus} failed (exit {process.returncode}):\n{err[-3000:]}")
    metrics = json.loads((out / "training_metrics.json").read_text(encoding="utf-8"))
    samples, half = memory.samples, len(memory.samples) // 2
    return {"corpus_bytes": corpus.stat().st_size, "seconds": seconds, "global_step": metrics["global_step"],
            "peak_mib": memory.peak, "first_half_peak_mib": max(samples[:half]),
            "second_half_peak_mib": max(samples[half:]), "samples": len(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-gb", type=float, default=2.2)
    parser.add_argument("--small-mb", type=float, default=8)
    parser.add_argument("--max-steps", type=int, default=30)
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--keep-corpus", help="write (or reuse) the corpora in this folder and keep them")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="knowtune-streaming-"))
    corpora = Path(args.keep_corpus) if args.keep_corpus else work
    corpora.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for label, size in (("small", int(args.small_mb * 2**20)), ("big", int(args.big_gb * 2**30))):
            corpus = corpora / f"corpus-{size}.txt"
            began = time.perf_counter()
            write_corpus(corpus, size)
            print(f"{label}: {corpus.stat().st_size / 2**30:.3f} GiB corpus ready in {time.perf_counter() - began:.0f} s",
                  flush=True)
            rows.append({"corpus": label, **train(corpus, work / f"run-{label}", args.max_steps, args.max_seq_length,
                                                             args.batch_size)})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| corpus | size | steps | seconds | peak MiB | first-half peak | second-half peak |\n|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['corpus']} | {row['corpus_bytes'] / 2**30:.3f} GiB | {row['global_step']} | {row['seconds']:.0f} | "
              f"{row['peak_mib']:,.0f} | {row['first_half_peak_mib']:,.0f} | {row['second_half_peak_mib']:,.0f} |")
    if len(rows) == 2:
        print(f"\npeak memory, big corpus / small corpus: {rows[1]['peak_mib'] / rows[0]['peak_mib']:.2f}x "
              f"for {rows[1]['corpus_bytes'] / rows[0]['corpus_bytes']:,.0f}x the text")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
