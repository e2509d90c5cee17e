"""The main job's time: knowtune as it is vs knowtune at an earlier commit, same data, same machine, taking turns.

    .venv/bin/python -u benchmarks/run_time.py --before f8783ee [--repeats 2] [--config examples/run/demo.yaml]

Issue 17 asked that the larger retention suite, retrieval and intervals keep `knowtune run`'s time within 10% of
what it was when the issue was filed (f8783ee). The documents-to-Q&A step has changed since (issue 15), so both
sides train on the same data:

- now: `knowtune run CONFIG` with this checkout (its documents are turned into training pairs, dev questions that
  choose the checkpoint, and the config's test questions);
- before: `knowtune run` of the `--before` commit (a `git worktree` of it, its own code on this environment) on
  the training pairs and dev questions the first "now" run wrote, as `train_data` and `heldout` (which at that
  commit both chose the checkpoint and were graded).

Each side runs once to fill the caches every rerun has (the base model's answers and replayed answers), then they
take turns `--repeats` times, each alone on the machine. Prints each run's wall seconds and phases (generate,
train, evaluate from summary.json), the means and the ratio now / before. The runs go to runs/rt_*.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def knowtune(src: Path, args: list[str], log: Path) -> float:
    """Wall seconds of one `knowtune ...` with the package from `src` (a checkout's src/) first on the path."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    started = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run([sys.executable, "-m", "knowtune", *args], cwd=ROOT, env=env, stdout=out,
                              stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"knowtune {' '.join(args)} failed (exit {done.returncode}); see {log}")
    return time.monotonic() - started


def phases(run: str) -> dict:
    seconds = json.loads((ROOT / "runs" / run / "summary.json").read_text())["seconds"]
    return {k: round(v, 1) for k, v in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the commit to compare with (f8783ee: issue 17's filing)")
    parser.add_argument("--config", default="examples/run/demo.yaml")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="knowtune-run-time-"))
    tree = work / "before"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), args.before], cwd=ROOT, check=True)
    try:
        now_src, before_src = ROOT / "src", tree / "src"

        def now(name: str) -> float:
            return knowtune(now_src, ["run", args.config, f"experiment_name={name}", "--overwrite"],
                            work / f"{name}.log")

        wall = {"now": [], "before": []}
        print(f"now: {args.config} with this checkout; warming the caches", flush=True)
        first = now("rt_now_warm")
        print(f"  rt_now_warm {first:.0f} s {phases('rt_now_warm')}", flush=True)
        written = ROOT / "runs" / "rt_now_warm"
        shutil.copyfile(written / "generated" / "train.jsonl", work / "train.jsonl")
        dev = [json.loads(line) for line in (written / "dev.jsonl").read_text().splitlines()]
        (work / "dev.jsonl").write_text("".join(json.dumps({"question": r["question"], "answer": r["answer"]}) + "\n"
                                                for r in dev))
        config = work / "before.yaml"
        config.write_text(f"train_data: [{work / 'train.jsonl'}]\nheldout: [{work / 'dev.jsonl'}]\n")

        def before(name: str) -> float:
            return knowtune(before_src, ["run", str(config), f"experiment_name={name}", "--overwrite"],
                            work / f"{name}.log")

        print(f"before: {args.before} on the same {sum(1 for _ in open(work / 'train.jsonl'))} training pairs and "
              f"{len(dev)} dev questions; warming", flush=True)
        seconds = before("rt_before_warm")
        print(f"  rt_before_warm {seconds:.0f} s {phases('rt_before_warm')}", flush=True)
        for repeat in range(1, args.repeats + 1):
            for side, go in (("before", before), ("now", now)):
                name = f"rt_{side}{repeat}"
                wall[side].append(go(name))
                print(f"  {name} {wall[side][-1]:.0f} s {phases(name)}", flush=True)
        mean = {side: statistics.mean(values) for side, values in wall.items()}
        print(f"\n| side | runs (s) | mean (s) |\n|---|---|---|")
        for side in ("before", "now"):
            print(f"| {side} | {', '.join(f'{v:.0f}' for v in wall[side])} | {mean[side]:.0f} |")
        print(f"\nnow / before: {mean['now'] / mean['before']:.2f}x")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
