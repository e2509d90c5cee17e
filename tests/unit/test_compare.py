"""`knowtune compare`: ranking, criteria, config differences, bad run dirs, escaping, and the page in Chromium."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from knowtune.cli import main
from knowtune.experiments.compare import write_comparison

REPO = Path(__file__).resolve().parents[2]
XSS = '<script>alert("pwned")</script>'
NAME = "<img src=x onerror=alert(1)>"


def fake_run(path: Path, lr: float, evals: list[tuple[int, float, float]], prediction: str = "Paris") -> Path:
    """A run dir as knowtune train + knowtune eval leave it; evals = (step, eval_loss, eval_held_f1)."""
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(yaml.safe_dump({"experiment_name": path.name, "model": "tiny",
                                                      "training": {"learning_rate": lr, "seed": 1}}))
    history = [{"loss": 3.0 - 0.1 * s, "num_tokens": 100.0 * s, "step": s} for s in range(1, evals[-1][0] + 1)]
    history += [{"eval_loss": loss, "eval_held_f1": f1, "eval_runtime": 0.1, "step": s} for s, loss, f1 in evals]
    history.sort(key=lambda h: h["step"])
    step, loss, f1 = evals[-1]
    (path / "training_metrics.json").write_text(json.dumps({
        "global_step": step, "train": {"train_runtime": 10.0, "train_loss": 2.5},
        "eval": {"eval_loss": loss, "eval_held_f1": f1, "eval_runtime": 0.1}, "log_history": history}))
    (path / "eval" / "predictions").mkdir(parents=True)
    (path / "eval" / "predictions" / "held.jsonl").write_text(json.dumps(
        {"question": "Capital of France?", "answers": ["Paris"], "prediction": prediction}) + "\n")
    return path


def test_best_run_by_metric_direction_criteria_and_config_differences(tmp_path):
    a = fake_run(tmp_path / "a", 1e-3, [(2, 2.0, 0.5), (4, 1.5, 0.9)])
    b = fake_run(tmp_path / "b", 1e-2, [(2, 1.8, 0.4), (4, 1.2, 0.7)])
    by_loss = write_comparison([a, b], tmp_path / "out", metric="eval_loss", criteria=["f1>=0.85"])
    assert by_loss["best"] == "b" and by_loss["lower_is_better"] and by_loss["ranking"] == ["b", "a"]
    assert by_loss["best_meets_criteria"] is False  # b's f1 is 0.7
    assert [r["meets_criteria"] for r in by_loss["runs"]] == [True, False]
    assert by_loss["config_differences"] == {"training.learning_rate": {"a": 1e-3, "b": 1e-2}}
    by_f1 = write_comparison([a, b], tmp_path / "out2", criteria=["f1>=0.85"])  # metric: the criterion's
    assert by_f1["metric"] == "f1" and by_f1["best"] == "a" and by_f1["best_meets_criteria"] is True
    assert by_f1["runs"][0]["final"]["tokens_per_second"] == pytest.approx(400 / 10.0)
    md = (tmp_path / "out2" / "comparison.md").read_text()
    assert "**a** (0.9); meets the criteria f1>=0.85" in md
    assert "| training.learning_rate | 0.001 | 0.01 |" in md
    assert "| 2 | 1.8 | 0.4 |" in md  # b's first evaluation, per-eval table
    assert json.loads((tmp_path / "out2" / "comparison.json").read_text())["best"] == "a"


def test_run_dir_without_metrics_is_named_and_others_continue(tmp_path, capsys):
    good = fake_run(tmp_path / "good", 1e-3, [(2, 2.0, 0.5)])
    empty = tmp_path / "empty"
    (empty / "checkpoints").mkdir(parents=True)
    (empty / "config.yaml").write_text("model: tiny\n")
    assert main(["compare", str(good), str(empty), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert f"{empty}: no metrics" in captured.err and "Best by eval_loss (lower is better): good" in captured.out
    summary = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert [r["name"] for r in summary["runs"]] == ["good"] and summary["left_out"][0]["path"] == str(empty)
    assert f"left out: {empty}: no metrics" in (tmp_path / "out" / "comparison.md").read_text()


def test_no_run_with_metrics_and_bad_criterion_are_user_errors(tmp_path, fails_with):
    (tmp_path / "empty").mkdir()
    fails_with(["compare", str(tmp_path / "empty"), "--out", str(tmp_path / "o")], "no run directory had metrics")
    good = fake_run(tmp_path / "good", 1e-3, [(2, 2.0, 0.5)])
    fails_with(["compare", str(good), "--criteria", "f1 about 0.8"], "'f1 about 0.8' is not a criterion")


def test_generated_text_is_escaped_in_html(tmp_path):
    run = fake_run(tmp_path / NAME, 1e-3, [(2, 2.0, 0.5), (4, 1.5, 0.9)], prediction=XSS)
    other = fake_run(tmp_path / "plain", 1e-2, [(2, 1.9, 0.6)])
    write_comparison([run, other], tmp_path / "out", title=f"sweep {XSS}")
    page = (tmp_path / "out" / "comparison.html").read_text()
    assert "<script" not in page and "<img" not in page and "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


@pytest.fixture(scope="module")
def real_runs(tiny_llama, tmp_path_factory):
    """Two real tiny training runs that differ in learning rate, evaluated on held-out questions twice."""
    from knowtune.config import load_config
    from knowtune.train.config import TrainConfig
    from knowtune.train.run import run

    root = tmp_path_factory.mktemp("compare-runs")
    facts = [("What is the capital of France?", "Paris is the capital."), ("Who built the lighthouse?", "Vashti Quennet.")]
    (root / "qa.jsonl").write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in facts * 8))
    (root / "held.jsonl").write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in facts))
    dirs = []
    for name, lr in (("slow", 2e-4), ("fast", 1e-2)):
        cfg = load_config(TrainConfig, None, [f"model={tiny_llama}", f"data.train={root / 'qa.jsonl'}",
                                              f"base_output_dir={root}", f"experiment_name={name}",
                                              "data.max_seq_length=64", "training.max_steps=6", "training.eval_steps=3",
                                              f"training.eval_datasets=[{root / 'held.jsonl'}]",
                                              f"training.learning_rate={lr}"])
        dirs.append(run(cfg).run_dir)
    return dirs


@pytest.mark.slow
def test_compare_real_runs_ranks_by_eval_loss(real_runs, tmp_path):
    summary = write_comparison(real_runs, tmp_path)
    finals = {p.name: json.loads((p / "training_metrics.json").read_text())["eval"]["eval_loss"] for p in real_runs}
    assert summary["metric"] == "eval_loss" and summary["best"] == min(finals, key=finals.get)
    assert summary["best_value"] == pytest.approx(min(finals.values()))
    assert set(summary["config_differences"]) == {"training.learning_rate"}
    assert all(r["state"] == "finished" and r["step"] == 6 for r in summary["runs"])


@pytest.mark.slow
def test_comparison_html_opens_in_chromium_with_plots(real_runs, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("SKIP reason: no chromium on PATH (apt-get install -y chromium)")
        pytest.skip("no chromium on PATH (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    escaped = fake_run(tmp_path / NAME, 1e-3, [(3, 6.5, 0.5), (6, 6.4, 0.6)], prediction=XSS)
    write_comparison([*real_runs, escaped], tmp_path / "out")
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        page = browser.new_page()
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: problems.append(f"network: {r.url}") if not r.url.startswith("file:") else None)
        page.goto((tmp_path / "out" / "comparison.html").as_uri())
        plots = page.eval_on_selector_all("figure.plot", "els => els.map(e => e.dataset.plot)")
        drawn = page.eval_on_selector_all("figure.plot svg", "els => els.map(e => e.getBoundingClientRect().height)")
        scripts = page.eval_on_selector_all("script", "els => els.length")
        text = page.inner_text("body")
        page.screenshot(path=str(artifacts / "comparison.png"), full_page=True)
        browser.close()
    assert problems == []
    assert plots[0] == "Loss" and "eval_held_f1" in plots and len(drawn) == len(plots) and min(drawn) > 100
    assert scripts == 0 and XSS in text and NAME in text  # shown as text, never run
    assert (artifacts / "comparison.png").stat().st_size > 10_000
