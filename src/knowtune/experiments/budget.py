"""`knowtune budget`: does a fine-tune fit a time budget? Train N times, average the wall times.

Seed 002's test: the average of three fine-tunes (three datasets, or three repeats of one config)
must stay within 8 hours. Each run is a full `knowtune train` run (model loading and saving
included) in its own run directory; a run that fails is reported and the others go on. During
every training run, `knowtune.train.projection.BudgetProjection` also prints a projection
after its first steps.
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

from knowtune.errors import UserError
from knowtune.fileio import write_json
from knowtune.train.projection import duration

DEFAULT_BUDGET_HOURS = 8.0


def average_verdict(seconds: list[float], budget_hours: float, failed: int) -> tuple[bool, str]:
    if not seconds:
        return False, f"no run finished ({failed} failed): nothing to compare with the {budget_hours:g}h budget"
    average = sum(seconds) / len(seconds)
    fits = average <= budget_hours * 3600 and not failed
    line = f"average {duration(average)} over {len(seconds)} runs ({average:.1f} s) vs the {budget_hours:g}h budget: "
    line += "PASS" if fits else "FAIL"
    if failed:
        line += f" ({failed} run{'s' if failed > 1 else ''} failed)"
    return fits, line


def plan(datasets: list[str], repeats: int | None) -> list[dict]:
    """One entry per run: its extra overrides and label."""
    if datasets and repeats:
        raise UserError("give --datasets or --repeats, not both")
    if datasets:
        return [{"label": Path(d).stem, "overrides": [f"data.train={d}"]} for d in datasets]
    if not repeats or repeats < 1:
        raise UserError("give --datasets A B C (one run each) or --repeats N (N runs of the config)")
    return [{"label": f"repeat {i + 1}", "overrides": []} for i in range(repeats)]


def add_budget_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "budget", help="train N times (N datasets or N repeats) and check the average wall time against a budget",
        usage="knowtune budget [CONFIG.yaml] [key=value ...] (--datasets PATH ... | --repeats N) [--budget_hours H]",
        description="Run `knowtune train` once per dataset (or N times), record each run's wall time (model "
        "loading and saving included), and print the average against the budget. Writes budget.json. Exit code "
        "0 only if every run finished and the average fits.",
    )
    parser.add_argument("items", nargs="*", metavar="CONFIG|key=value", help="a YAML config, then overrides")
    parser.add_argument("--datasets", nargs="+", default=[], metavar="PATH", help="one run per dataset (data.train)")
    parser.add_argument("--repeats", type=int, help="N runs of the same config")
    parser.add_argument("--budget_hours", type=float, default=DEFAULT_BUDGET_HOURS,
                        help=f"the budget for the average run (default {DEFAULT_BUDGET_HOURS:g})")
    parser.add_argument("--out", type=Path, help="where budget.json goes (default <base_output_dir>/<name>-budget.json)")
    parser.set_defaults(func=cmd_budget)


def cmd_budget(args: argparse.Namespace) -> int:
    from knowtune.config import split_config_and_overrides
    from knowtune.config import load_config
    from knowtune.train.config import TrainConfig

    config, overrides = split_config_and_overrides(args.items)
    base = {"experiment_name": Path(config).stem} if config else {}
    runs = plan(args.datasets, args.repeats)
    # Every config is checked before the first run starts: a typo fails now, not after hours of training.
    configs = []
    for i, entry in enumerate(runs, 1):
        cfg = load_config(TrainConfig, config, [f"training.time_budget_hours={args.budget_hours}", *overrides,
                                                *entry["overrides"]], base=base)
        cfg.experiment_name = f"{cfg.experiment_name}-budget-{i}"
        configs.append(cfg)
    name = configs[0].experiment_name.rsplit("-", 1)[0]
    out = args.out or Path(configs[0].base_output_dir) / f"{name}.json"
    records = []
    for entry, cfg in zip(runs, configs):
        print(f"[{entry['label']}] training -> {Path(cfg.base_output_dir) / cfg.experiment_name}", flush=True)
        records.append({"label": entry["label"], "run_dir": str(Path(cfg.base_output_dir) / cfg.experiment_name),
                        **_timed_run(cfg, args.command_line)})
        record = records[-1]
        print(f"[{entry['label']}] " + (f"{duration(record['seconds'])} ({record['seconds']:.1f} s)"
                                        if record["status"] == "finished" else f"FAILED: {record['error']}"), flush=True)
    seconds = [r["seconds"] for r in records if r["status"] == "finished"]
    fits, line = average_verdict(seconds, args.budget_hours, len(records) - len(seconds))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, {"budget_hours": args.budget_hours, "runs": records,
                     "average_seconds": sum(seconds) / len(seconds) if seconds else None, "fits": fits})
    print(line)
    print(f"Saved: {out}")
    return 0 if fits else 1


def _timed_run(cfg, command: list[str]) -> dict:
    from knowtune.train.run import run

    start = time.perf_counter()
    try:
        result = run(cfg, command=command)
        del result  # the next run starts from a fresh base model; free this one first
        return {"status": "finished", "seconds": time.perf_counter() - start}
    except Exception as e:  # one failed run is reported; the others still measure the budget
        return {"status": "failed", "seconds": time.perf_counter() - start, "error": f"{type(e).__name__}: {e}"}
    finally:
        gc.collect()
        _empty_cuda_cache()


def _empty_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
