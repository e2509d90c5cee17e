"""Standard benchmarks through lm-evaluation-harness (`knowtune eval --lm_eval_tasks TASKS`).

The models are the ones `knowtune eval` loads (an adapter merged into its base), handed to lm-eval's
HFLM as objects, so base and tuned are scored by the same harness with the same settings. A task
is a name lm-eval knows (hellaswag, arc_easy, ...) or the path of a task YAML of one's own. Tasks
and their data are loaded before any model, so a misspelt name or data that cannot be reached (no
Hub access) is one line within seconds, not a traceback after the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from knowtune.errors import UserError
from knowtune.evaluate.stats import wilson_interval

EXTRA = "pip install 'knowtune[lm_eval]'"
CPU_BATCH = 8  # loglikelihood rows hold the whole context and every choice; wider gains little on a CPU
LOWER_IS_BETTER = ("perplexity", "bits_per_byte", "ter")  # lm-eval metrics named with these fall as models improve


@dataclass
class LmEvalTasks:
    names: list[str]  # task names as lm-eval knows them (a YAML's `task:`)
    manager: object  # lm_eval.tasks.TaskManager
    tasks: dict  # name -> lm-eval task object, its data loaded


def _import():
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        raise UserError(f"lm_eval_tasks needs lm-evaluation-harness: {EXTRA}") from None


def _yaml_task(path: Path) -> str:
    import yaml

    try:
        name = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("task")
    except (OSError, yaml.YAMLError) as e:
        raise UserError(f"{path}: not a readable lm-eval task YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(name, str):
        raise UserError(f"{path}: an lm-eval task YAML needs a `task:` name")
    return name


def check_names(names: list[str], known: list[str]) -> None:
    """Every task must be one lm-eval knows; the unknown ones are named in one line."""
    unknown = [n for n in names if n not in set(known)]
    if unknown:
        raise UserError(f"lm_eval_tasks: unknown task {', '.join(unknown)} (`lm-eval ls tasks` lists them; "
                        "or give the path of a task YAML)")


def load_tasks(items: list[str]) -> LmEvalTasks:
    """Resolve names and YAML paths, load each task and its data; fail in one line if any cannot be."""
    _import()
    from lm_eval.tasks import TaskManager, get_task_dict

    yamls = [Path(i) for i in items if i.endswith((".yaml", ".yml"))]
    for path in yamls:
        if not path.is_file():
            raise UserError(f"lm_eval_tasks: {path}: no such task YAML")
    names = [_yaml_task(Path(i)) if Path(i) in yamls else i for i in items]
    # Indexing lm-eval's own thousands of task files takes many seconds: only when a name needs them.
    manager = TaskManager(include_path=sorted({str(p.parent.resolve()) for p in yamls}) or None,
                          include_defaults=len(yamls) < len(items))
    check_names(names, manager.all_tasks)
    try:
        tasks = get_task_dict(names, manager)
    except (OSError, ValueError) as e:  # ConnectionError (no Hub), DatasetNotFoundError, a missing data file
        raise UserError(f"lm_eval_tasks {', '.join(names)}: the task data cannot be loaded here "
                        f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    return LmEvalTasks(names, manager, tasks)


def _scores(task_results: dict) -> dict:
    """lm-eval's `acc,none` / `acc_stderr,none` keys -> {acc: value}; accuracies get a Wilson interval."""
    n = task_results.get("sample_len")
    found = {}
    for key, value in task_results.items():
        metric, _, _ = key.partition(",")
        if "stderr" in metric or not isinstance(value, (int, float)) or isinstance(value, bool) or metric == "sample_len":
            continue
        found[metric] = float(value)
        if metric.startswith("acc") and isinstance(n, int) and n > 0 and 0 <= value <= 1:
            found[f"{metric}_ci"] = list(wilson_interval(round(value * n), n))
    if isinstance(n, int):
        found["n"] = n
    return found


def evaluate_model(model, tokenizer, loaded: LmEvalTasks, batch_size: int | str, limit: int | None) -> dict:
    """task -> {metric: value, metric_ci: [low, high] for accuracies, n} for one loaded model."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=CPU_BATCH if batch_size == "auto" else batch_size)
    out = lm_eval.simple_evaluate(model=lm, tasks=list(loaded.tasks.values()), task_manager=loaded.manager,
                                  limit=limit, log_samples=False, bootstrap_iters=0)
    return {task: _scores(values) for task, values in out["results"].items()}


def comparison_rows(base: dict, model: dict) -> dict:
    """`compare`'s rows for the before/after table: "lm_eval <task>" -> metric -> base, model, change, verdict."""
    rows = {}
    for task, metrics in model.items():
        found = {}
        for metric, value in metrics.items():
            if metric == "n" or metric.endswith("_ci") or metric not in base.get(task, {}):
                continue
            change = value - base[task][metric]
            improved = change < 0 if any(word in metric for word in LOWER_IS_BETTER) else change > 0
            found[metric] = {"base": base[task][metric], "model": value, "change": change,
                             "verdict": "same" if change == 0 else "gain" if improved else "loss"}
        rows[f"lm_eval {task}"] = found
    return rows
