"""`knowtune sweep SWEEP.yaml`: train every variant of a base config, side by side, then compare them.

Each trial is a `knowtune train` process with its own run directory inside the sweep directory.
Locally, a trial is pinned to one GPU through CUDA_VISIBLE_DEVICES and the others wait for a free
one (without a GPU they run one after another); with backend=ray they are Ray tasks of one GPU
each. While trials run, the sweep reads their early_validation.json files and asks a trial that
trails the leader by more than early_validation.max_gap to stop. At the end: summary.json and the
comparison report (comparison.md / .html / .json) in the sweep directory.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable

from knowtune.config import add_config_command, to_yaml
from knowtune.errors import UserError, missing_extra
from knowtune.experiments.compare import write_comparison
from knowtune.experiments.comparison import lower_is_better, metric_value
from knowtune.train.early_validation import read_result, request_stop
from knowtune.train.gpus import choose_gpus, local_devices
from knowtune.train.state import write_state
from knowtune.experiments.sweep_config import SweepConfig, Trial, load_sweep, plan_trials, sweep_dir
from knowtune.fileio import write_atomic, write_json

POLL_SECONDS = 2.0
Runner = Callable[[Trial, "str | None"], dict]  # (trial, CUDA_VISIBLE_DEVICES entry or None) -> train_process()'s dict


def train_process(config_path: str, log_path: str, cwd: str, device: str | None = None) -> dict:
    """`knowtune train CONFIG` in a child process, output to log_path; also the body of a Ray task."""
    env = dict(os.environ)
    if device is not None:
        env["CUDA_VISIBLE_DEVICES"] = device
    start = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as out:
        code = subprocess.run([sys.executable, "-m", "knowtune", "train", config_path],
                              cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    return {"exit_code": code, "seconds": round(time.monotonic() - start, 1),
            "device": env.get("CUDA_VISIBLE_DEVICES") or "cpu", "host": os.uname().nodename}


def run_queue(trials: list[Trial], devices: list[str | None], runner: Runner,
              poll: Callable[[set[str]], None] = lambda done: None, interval: float = POLL_SECONDS) -> dict[str, dict]:
    """Each trial on a free device, one trial per device at a time; the others wait, in order.

    `poll(names of the trials done)` is called every `interval` seconds while trials run.
    """
    free: queue.Queue = queue.Queue()
    for device in devices:
        free.put(device)

    def work(trial: Trial) -> dict:
        device = free.get()  # never waits long: at most len(devices) workers hold one each
        print(f"[{trial.name}] started on {'GPU ' + device if device is not None else 'the CPU'}", flush=True)
        try:
            return runner(trial, device)
        except Exception as e:  # a runner that breaks fails its trial, not the sweep
            return {"exit_code": None, "device": device or "cpu", "error": f"{type(e).__name__}: {e}"}
        finally:
            free.put(device)

    with ThreadPoolExecutor(max_workers=len(devices)) as pool:
        futures = {pool.submit(work, t): t.name for t in trials}
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=interval)
            poll({futures[f] for f in futures if f not in pending})
    return {name: f.result() for f, name in futures.items()}


def run_ray(trials: list[Trial], cfg: SweepConfig, command: Callable[[Trial], tuple],
            poll: Callable[[set[str]], None], interval: float = POLL_SECONDS) -> dict[str, dict]:
    """The trials as Ray tasks, one GPU each where the cluster has GPUs; Ray queues what does not fit."""
    ray = _ray()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=cfg.ray_address, include_dashboard=False)
    try:
        gpus = 1 if ray.cluster_resources().get("GPU", 0) else 0
        task = ray.remote(train_process).options(num_gpus=gpus, num_cpus=1)
        refs = {task.remote(*command(t)): t.name for t in trials}
        pending = list(refs)
        while pending:
            _, pending = ray.wait(pending, num_returns=len(pending), timeout=interval)
            poll({refs[r] for r in refs if r not in pending})
        found = {}
        for ref, name in refs.items():
            try:
                found[name] = ray.get(ref)
            except ray.exceptions.RayError as e:
                found[name] = {"exit_code": None, "error": f"Ray task failed: {str(e).strip().splitlines()[-1]}"}
        return found
    finally:
        if started_here:
            ray.shutdown()


def _ray():
    try:
        import ray
    except ImportError:
        raise missing_extra("ray", "ray") from None
    return ray


class LeaderWatch:
    """Stops running trials that trail the best validated trial by more than max_gap."""

    def __init__(self, trials: list[Trial], metric: str, max_gap: float):
        self.trials, self.metric, self.max_gap = trials, metric, max_gap
        self.asked: set[str] = set()

    def __call__(self, done: set[str]) -> None:
        values = {}
        for t in self.trials:
            result = read_result(t.run_dir)
            value = metric_value(result["metrics"], self.metric) if result and "metrics" in result else None
            if value is not None:
                values[t.name] = (float(value), result)
        if not values:
            return
        sign = -1 if lower_is_better(self.metric) else 1
        leader = max(values, key=lambda name: sign * values[name][0])
        best = values[leader][0]
        for t in self.trials:
            if t.name not in values or t.name in done or t.name in self.asked or "stopped" in values[t.name][1]:
                continue
            gap = sign * (best - values[t.name][0])
            if gap > self.max_gap:
                request_stop(t.run_dir, f"trails the leader {leader} on {self.metric}: {values[t.name][0]:.4g} vs "
                                        f"{best:.4g} (gap {gap:.4g} > max_gap {self.max_gap:g})")
                self.asked.add(t.name)
                print(f"[{t.name}] asked to stop: trails {leader} by {gap:.4g} on {self.metric}", flush=True)


def _prepare(cfg: SweepConfig, trials: list[Trial]) -> Path:
    root = sweep_dir(cfg)
    if root.exists() and any(root.iterdir()):
        if not cfg.overwrite:
            raise UserError(f"sweep directory {root} already exists; replace it with overwrite=true or choose "
                            f"another experiment_name")
        shutil.rmtree(root)
    (root / "trials").mkdir(parents=True)
    write_atomic(root / "sweep.yaml", to_yaml(cfg))
    for t in trials:
        if t.config is not None:
            write_atomic(root / "trials" / f"{t.name}.yaml", to_yaml(t.config))
    return root


def _outcome(trial: Trial, ran: dict | None, log_path: Path) -> dict:
    """The trial's final state, recorded in its state.json too."""
    if trial.config is None:
        row = {"state": "failed", "reason": trial.error}
    elif ran.get("exit_code") == 0:
        stopped = (read_result(trial.run_dir) or {}).get("stopped")
        row = {"state": "stopped_early", "reason": stopped} if stopped else {"state": "finished"}
    else:
        row = {"state": "failed", "reason": ran.get("error") or _last_line(log_path, ran.get("exit_code"))}
    row.update({k: v for k, v in (ran or {}).items() if k != "error"})
    write_state(trial.run_dir, row["state"], **{k: v for k, v in row.items() if k != "state"})
    return {"name": trial.name, "overrides": trial.overrides, "run_dir": str(trial.run_dir), **row}


def _last_line(log_path: Path, code: int | None) -> str:
    """The line of a failed trial's output that says why: its `knowtune: error:` line, else the last one."""
    try:
        lines = [line.strip() for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        lines = []
    errors = [line for line in lines if line.startswith("knowtune: error:")]
    last = (errors or [line for line in lines if line] or ["no output"])[-1]
    return f"exit code {code}: {last[:500]} (output: {log_path})"


def run_sweep(cfg: SweepConfig, source: str = "sweep", devices: list[str] | None = None,
              runner: Runner | None = None) -> dict:
    """Run every trial, then write summary.json and the comparison; return the summary.

    `devices` (CUDA_VISIBLE_DEVICES entries; default: chosen by gpu_ids / gpu_type among this
    machine's GPUs) and `runner` (default: a `knowtune train` process) are for tests.
    """
    # Setup: every variant is validated and the GPUs are chosen before anything runs.
    trials = plan_trials(cfg, source)
    valid = [t for t in trials if t.config is not None]
    if not valid:
        raise UserError(f"no trial of {source} is a valid train config: {trials[0].error}")
    for t in trials:
        if t.error:
            print(f"knowtune sweep: {t.error}; the other trials still run", file=sys.stderr)
    if cfg.backend == "ray":
        _ray()
    elif devices is None:
        devices = choose_gpus(local_devices(), cfg.gpu_ids, cfg.gpu_type)
    root = _prepare(cfg, trials)
    logs = {t.name: root / "trials" / f"{t.name}.log" for t in trials}
    where = "Ray" if cfg.backend == "ray" else (f"GPUs {', '.join(devices)}" if devices else "the CPU, one at a time")
    print(f"Sweep {cfg.experiment_name}: {len(valid)} trials on {where} -> {root}", flush=True)

    # Work.
    ev = cfg.early_validation
    watch = LeaderWatch(valid, cfg.leader_metric, ev.max_gap) if ev and ev.max_gap is not None else (lambda done: None)

    def command(t: Trial) -> tuple:
        return str((root / "trials" / f"{t.name}.yaml").resolve()), str(logs[t.name].resolve()), os.getcwd()

    if cfg.backend == "ray":
        ran = run_ray(valid, cfg, command, watch)
    else:
        runner = runner or (lambda t, device: train_process(*command(t), device))
        ran = run_queue(valid, devices or [None], runner, watch)

    # Save.
    rows = [_outcome(t, ran.get(t.name), logs[t.name]) for t in trials]
    for row in rows:
        shown = f" ({row['reason']})" if row.get("reason") else ""
        print(f"[{row['name']}] {row['state']}{shown}", flush=True)
    comparison = write_comparison([t.run_dir for t in valid], root, cfg.metric, cfg.criteria,
                                  title=f"Sweep {cfg.experiment_name}")
    summary = {"sweep": cfg.experiment_name, "source": source, "backend": cfg.backend, "devices": devices,
               "trials": rows, "metric": comparison["metric"], "ranking": comparison["ranking"],
               "best": comparison["best"], "best_meets_criteria": comparison["best_meets_criteria"]}
    write_json(root / "summary.json", summary)
    print(f"Best: {summary['best']} by {summary['metric']}; report: {root / 'comparison.md'}, "
          f"{root / 'comparison.html'}", flush=True)
    return summary


def add_sweep_parser(sub: argparse._SubParsersAction) -> None:
    add_config_command(
        sub, "sweep", SweepConfig, cmd_sweep, "train variants of a config side by side (one per GPU) and compare them",
        required=True, description="Exit code 0 when every trial finished or was stopped early, 1 when one failed.",
        keys="sweep keys (base.KEY=value sets a key of the base train config)",
    )


def cmd_sweep(args: argparse.Namespace) -> int:
    from knowtune.config import split_config_and_overrides

    path, overrides = split_config_and_overrides(args.items, required="a sweep file: knowtune sweep SWEEP.yaml [key=value ...]")
    summary = run_sweep(load_sweep(path, overrides), str(path))
    return 0 if all(row["state"] != "failed" for row in summary["trials"]) else 1
