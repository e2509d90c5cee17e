"""Data preparation at scale: knowtune's build_datasets against a plain datasets.map, first run and cached.

    .venv/bin/python benchmarks/data_prep.py [--sizes 10000 100000 1000000] [--text-mb 1024] [--json PATH]
        [--compare-src OTHER_CHECKOUT/src --compare-up-to 100000]

Workloads, generated into a temporary folder (deleted at the end):
- QA records (`question`/`answer`, about 40 tokens each rendered) at each of --sizes;
- a text corpus of --text-mb megabytes as JSON Lines documents of about 2 KB (0 skips it).

Variants, each in a fresh process (imports and the shipped tokenizer's load are not timed):
- knowtune: build_datasets with an empty data cache (first), then again (cached); for the text
  corpus also data.streaming (every packed block read once);
- datasets.map: load_dataset("json") and a batched map on every core that renders each chat with
  the same tokenizer and tokenizes it, without loss masks, truncation or record checks (the
  baseline of issue 19); for text, tokenizing each document.
- with --compare-src: knowtune's build_datasets from another checkout (an older version, say), first
  run only, for the QA workloads up to --compare-up-to records.
records/s counts records (documents for the corpus) per second of the timed call; CPU s is the
CPU time of the call's process and its workers, which a loaded machine inflates less than the
wall time (records per CPU s times the cores is what an idle machine would reach at best). Peak memory is
the largest sum of the proportional set sizes (PSS: shared pages split among their sharers) of the
process and its workers, sampled every 0.2 s, so forked workers are not counted twice.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from process_memory import TreeMemory

WORDS = ("river tower engineer harbour winter capital museum bridge station garden keeper lantern coast "
         "island ferry archive signal market orchard quarry").split()


def write_qa(path: Path, count: int) -> int:
    rng = random.Random(count)
    with path.open("w", encoding="utf-8") as file:
        for n in range(count):
            question = f"What is the {rng.choice(WORDS)} of the {rng.choice(WORDS)} number {n}?"
            answer = f"The {rng.choice(WORDS)} {rng.choice(WORDS)} is called Name{n} since {1000 + n % 900}."
            file.write(json.dumps({"question": question, "answer": answer}) + "\n")
    return count


def write_text(path: Path, megabytes: int) -> int:
    rng, written, documents = random.Random(megabytes), 0, 0
    with path.open("w", encoding="utf-8") as file:
        while written < megabytes << 20:
            text = " ".join(rng.choice(WORDS) for _ in range(300)) + "."
            line = json.dumps({"text": text}) + "\n"
            file.write(line)
            written, documents = written + len(line), documents + 1
    return documents


def child(variant: str, data: str, shape: str, tokenizer_dir: str) -> dict:
    """One timed run in this process; returns seconds and records."""
    import datasets  # imported by every training run anyway: not part of the timed work

    from knowtune.models import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_dir)
    cpu_before = _cpu_seconds()
    start = time.perf_counter()
    if variant in ("knowtune", "knowtune-streaming"):
        from knowtune.data import DataConfig, build_datasets

        streaming = variant == "knowtune-streaming"
        options = {"streaming": True} if streaming else {}  # an older knowtune has no such field
        train, _, stats = build_datasets(DataConfig(train=data, max_seq_length=1024, **options), tokenizer)
        blocks = sum(1 for _ in train) if streaming else len(train)
        records = stats["train_records"]
    else:
        rows = datasets.load_dataset("json", data_files=data, split="train", cache_dir=os.environ["BASELINE_CACHE"])
        if shape == "qa":
            def encode(batch):
                chats = [[{"role": "user", "content": q}, {"role": "assistant", "content": a}]
                         for q, a in zip(batch["question"], batch["answer"])]
                texts = tokenizer.apply_chat_template(chats, tokenize=False)
                return tokenizer(texts, add_special_tokens=False)
        else:
            def encode(batch):
                return tokenizer(batch["text"])
        train = rows.map(encode, batched=True, num_proc=len(os.sched_getaffinity(0)), remove_columns=rows.column_names)
        blocks, records = len(train), len(rows)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_before
    return {"seconds": seconds, "cpu_seconds": cpu, "records": records, "samples": blocks}


def _cpu_seconds() -> float:
    """CPU time of this process and of its ended workers (the pool's, once joined)."""
    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in used)


def measure(variant: str, data: Path, shape: str, records: int, env: dict) -> dict:
    """Run `variant` in a fresh process; its result with the peak PSS of its process tree."""
    command = [sys.executable, __file__, "--child", variant, str(data), shape]
    process = psutil.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    with TreeMemory(process, 0.2) as memory:
        out, _ = process.communicate()
    if process.returncode != 0:
        return {"variant": variant, "failed": f"exit {process.returncode}"}
    result = json.loads(out.strip().splitlines()[-1])
    result["records"] = result["records"] or records  # a stream does not count its records; the generator did
    return {"variant": variant, **result, "records_per_s": result["records"] / result["seconds"],
            "peak_mib": memory.peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--text-mb", type=int, default=1024)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--compare-src", help="another checkout's src folder to run knowtune from as well")
    parser.add_argument("--compare-up-to", type=int, default=100_000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from knowtune.models import resolve_model

    tokenizer_dir = resolve_model("smollm2-135m-instruct")
    if args.child:
        print(json.dumps(child(*args.child, tokenizer_dir)))
        return

    work = Path(tempfile.mkdtemp(prefix="knowtune-data-prep-"))
    rows = []
    try:
        workloads = [(f"{n:,} QA records", "qa", n) for n in args.sizes]
        if args.text_mb:
            workloads.append((f"{args.text_mb} MB text corpus", "text", args.text_mb))
        for label, shape, size in workloads:
            data = work / f"{shape}-{size}.jsonl"
            records = write_qa(data, size) if shape == "qa" else write_text(data, size)
            cache = work / "cache"
            env = dict(os.environ, KNOWTUNE_DATA_CACHE=str(cache / "knowtune"), BASELINE_CACHE=str(cache / "baseline"))
            runs = [("knowtune", "first"), ("knowtune", "cached"), ("datasets.map", "first")]
            if shape == "text":
                runs.append(("knowtune-streaming", "first"))
            if args.compare_src and shape == "qa" and size <= args.compare_up_to:
                runs.append(("knowtune", f"first, {args.compare_src}"))
            for variant, run in runs:
                run_env = dict(env, PYTHONPATH=args.compare_src) if "," in run else env
                result = measure(variant, data, shape, records, run_env)
                rows.append({"workload": label, "run": run, **result})
                print(_row(rows[-1]), flush=True)
            shutil.rmtree(cache, ignore_errors=True)
            data.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| workload | variant | run | seconds | records/s | CPU s | records per CPU s | peak MiB |\n"
          "|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(_row(row))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")


def _row(row: dict) -> str:
    if "failed" in row:
        return f"| {row['workload']} | {row['variant']} | {row['run']} | failed: {row['failed']} | | | | |"
    return (f"| {row['workload']} | {row['variant']} | {row['run']} | {row['seconds']:.1f} | "
            f"{row['records_per_s']:,.0f} | {row['cpu_seconds']:.1f} | {row['records'] / row['cpu_seconds']:,.0f} | "
            f"{row['peak_mib']:,.0f} |")


if __name__ == "__main__":
    main()
