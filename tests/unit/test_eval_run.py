"""`knowtune eval` end to end on tiny models: files written, adapters and runs, compare-base, bad input."""

import json

import pytest
import torch

from knowtune.cli import main
from knowtune.evaluate.eval_data import load_eval_dataset
from knowtune.models.generate import in_batches
from knowtune.evaluate.scoring import evaluate_dataset, generation_metrics
from knowtune.models import load_model, load_tokenizer


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path




@pytest.fixture
def data(tmp_path):
    qa = write_jsonl(tmp_path / "qa.jsonl", [
        {"question": "What is the capital of France?", "answers": ["Paris", "Paris, France"]},
        {"question": "Who is the lighthouse engineer?", "answer": "Vashti Quennet"},
        {"question": "hello", "answer": "world"},
    ])
    text = write_jsonl(tmp_path / "notes.jsonl", [{"text": "The quick brown fox jumps over the lazy dog."}])
    ner = write_jsonl(tmp_path / "ner.jsonl", [
        {"text": "Vashti Quennet lives in Paris.", "entities": [{"type": "PERSON", "value": "Vashti Quennet"}]},
    ])
    return qa, text, ner


@pytest.fixture(scope="module")
def run_dir(tiny_llama, tmp_path_factory):
    """A run directory as `knowtune train` leaves it: config.yaml and a LoRA adapter in final_model/."""
    from peft import LoraConfig, get_peft_model

    run = tmp_path_factory.mktemp("runs") / "demo"
    model = load_model(str(tiny_llama))
    # Random B matrices: the adapter changes the outputs, as a trained one would.
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    peft_model.save_pretrained(run / "final_model")
    load_tokenizer(str(tiny_llama)).save_pretrained(run / "final_model")
    (run / "config.yaml").write_text(f"model: {tiny_llama}\n", encoding="utf-8")
    return run


@pytest.mark.slow
def test_eval_writes_results_report_predictions_and_tensorboard(tiny_llama, data, tmp_path, capsys):
    qa, text, ner = data
    out = tmp_path / "out"
    argv = ["eval", "--model_path", str(tiny_llama), "--datasets", str(qa), str(text), f"{ner}:extraction",
            "--output_dir", str(out), "--max_new_tokens", "4", "--batch_size", "2", "--max_length", "8", "--stride", "4"]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["models"]["model"]["base"] == str(tiny_llama)
    assert len(results["models"]["model"]["base_sha256"]) == 64
    assert {name: d["metric"] for name, d in results["datasets"].items()} == {"qa": "qa", "notes": "perplexity", "ner": "extraction"}
    metrics = results["results"]["model"]
    assert metrics["qa"]["n"] == 3 and 0 <= metrics["qa"]["f1"] <= 1
    assert metrics["notes"]["tokens"] > 8 and metrics["notes"]["windows"] >= 2 and metrics["notes"]["perplexity"] > 1
    assert metrics["ner"]["unparsable"] == 1  # a random model does not write JSON
    assert metrics["ner"]["recall"] == 0.0
    assert results["settings"]["batch_size"] == 2 and metrics["qa"]["batch_size"] == 2

    lines = [json.loads(line) for line in (out / "predictions" / "qa.jsonl").read_text().splitlines()]
    assert sorted(line["index"] for line in lines) == [0, 1, 2]
    assert {"where", "question", "answers", "prediction", "exact_match", "f1", "contains"} <= set(lines[0])
    ner_line = json.loads((out / "predictions" / "ner.jsonl").read_text())
    assert ner_line["predicted_entities"] is None and ner_line["fn"] == 1

    report = (out / "report.md").read_text()
    assert "| qa | 3 |" in report and "| notes | 1 |" in report
    assert "Extraction `ner`: 1 records, 1 unparsable outputs" in report
    assert f"`ner` (model): 1 unparsable outputs, e.g. at {ner}:1" in report
    assert list((out / "tensorboard" / "model").glob("events.out.tfevents.*"))

    # The predictions file scores again without a model, to the same numbers.
    capsys.readouterr()
    assert main(["eval", "--predictions", str(out / "predictions" / "qa.jsonl")]) == 0
    rescored = json.loads(capsys.readouterr().out)["qa"]
    assert rescored == {k: pytest.approx(v) for k, v in metrics["qa"].items() if k != "batch_size"}


@pytest.mark.slow
def test_records_that_cannot_be_scored_are_counted_and_the_rest_goes_on(tiny_llama, data, tmp_path, capsys):
    qa, _, _ = data
    broken = write_jsonl(tmp_path / "broken.jsonl", [{"question": "Q1?"}, {"question": "Q2?", "answers": []}])
    half = write_jsonl(tmp_path / "half.jsonl", [{"question": "Q?", "answer": "A"}, {"question": "Q2?"}])
    out = tmp_path / "out"
    assert main(["eval", "--model_path", str(tiny_llama), "--datasets", str(qa), str(broken), str(half),
                 "--output_dir", str(out), "--max_new_tokens", "2"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["datasets"]["broken"]["skipped"] == "no record could be evaluated"
    assert results["datasets"]["half"]["evaluated"] == 1 and len(results["datasets"]["half"]["problems"]) == 1
    assert set(results["results"]["model"]) == {"qa", "half"}
    report = (out / "report.md").read_text()
    assert "`broken`: 2 of 2 records left out (not evaluated" in report
    assert f"{broken}:2: field 'answers' is an empty gold answer list" in report
    assert f"{half}:2: missing its answer field" in report
    assert "half: 1 of 2 records left out" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_base_on_a_run_directory(run_dir, data, capsys):
    qa, text, _ = data
    assert main(["eval", "--model_path", str(run_dir), "--datasets", str(qa), str(text), "--compare-base",
                 "--max_new_tokens", "4", "--max_length", "16", "--stride", "8"]) == 0
    out = run_dir / "eval"
    results = json.loads((out / "results.json").read_text())
    assert results["models"]["model"]["adapter"] == str((run_dir / "final_model").resolve())
    assert results["models"]["base"] == {"base": results["models"]["model"]["base"], "base_sha256": results["models"]["model"]["base_sha256"]}
    base_ppl = results["results"]["base"]["notes"]["perplexity"]
    model_ppl = results["results"]["model"]["notes"]["perplexity"]
    assert base_ppl != model_ppl  # the adapter was applied
    row = results["comparison"]["notes"]["perplexity"]
    assert row == {"base": base_ppl, "model": model_ppl, "change": model_ppl - base_ppl,
                   "verdict": "gain" if model_ppl < base_ppl else "loss"}
    assert set(results["comparison"]["qa"]) == {"exact_match", "f1", "contains"}
    assert (out / "predictions" / "base" / "qa.jsonl").is_file() and (out / "predictions" / "qa.jsonl").is_file()
    assert "## Before and after" in (out / "report.md").read_text()
    assert {p.name for p in (out / "tensorboard").iterdir()} == {"base", "model"}


@pytest.mark.slow
def test_the_base_models_answers_are_kept_across_evaluations(run_dir, data, tmp_path, capsys):
    qa, text, _ = data
    argv = ["eval", "--model_path", str(run_dir), "--datasets", str(qa), str(text), "--compare-base",
            "--max_new_tokens", "4", "--max_length", "16", "--stride", "8"]

    def evaluate(*extra, out="out"):
        capsys.readouterr()
        assert main([*argv, "--output_dir", str(tmp_path / out), *extra]) == 0
        results = json.loads((tmp_path / out / "results.json").read_text())
        return results, capsys.readouterr().out

    first, said = evaluate()
    assert "earlier evaluation" not in said and "[base] loading" in said
    again, said = evaluate(out="again")
    assert said.count("[base] qa: the answers of an earlier evaluation") == 1
    assert "[base] notes: the answers of an earlier evaluation" in said
    assert "[base] loading" not in said  # nothing left to ask it: the base model is not even loaded
    assert "[model] loading" in said  # a model with an adapter is always asked
    assert again["results"] == first["results"]
    kept = (tmp_path / "again" / "predictions" / "base" / "qa.jsonl").read_text()
    assert kept == (tmp_path / "out" / "predictions" / "base" / "qa.jsonl").read_text()

    _, said = evaluate("--fresh_answers", out="fresh")
    assert "earlier evaluation" not in said and "[base] loading" in said
    _, said = evaluate("--max_new_tokens", "3", out="shorter")  # another setting: asked again
    assert "[base] qa: the answers" not in said
    with qa.open("a", encoding="utf-8") as f:  # one more record: that file is asked again, the other is not
        f.write(json.dumps({"question": "And Spain?", "answer": "Madrid"}) + "\n")
    changed, said = evaluate(out="changed")
    assert "[base] qa: the answers" not in said and "[base] notes: the answers" in said
    assert changed["results"]["base"]["qa"]["n"] == 4


@pytest.mark.slow
def test_adapter_flag_and_adapter_dir_give_the_same_model(run_dir, tiny_llama, data, tmp_path):
    _, text, _ = data
    common = ["--datasets", str(text), "--max_length", "16", "--stride", "8"]
    assert main(["eval", "--model_path", str(tiny_llama), "--adapter", str(run_dir / "final_model"),
                 "--output_dir", str(tmp_path / "a"), *common]) == 0
    assert main(["eval", "--model_path", str(run_dir / "final_model"), "--output_dir", str(tmp_path / "b"), *common]) == 0
    a, b = (json.loads((tmp_path / d / "results.json").read_text())["results"]["model"]["notes"] for d in "ab")
    assert a["perplexity"] == pytest.approx(b["perplexity"])


def test_predictions_file_scoring_with_problems(tmp_path, capsys):
    qa = write_jsonl(tmp_path / "preds.jsonl", [
        {"prediction": "Paris", "answers": ["Paris"]},
        {"prediction": "It is in 1743.", "answer": "1743"},
        {"prediction": "北京市", "answers": ["北京"]},
        {"answer": "no prediction"},
        {"prediction": "x", "answers": []},
    ])
    out = tmp_path / "out"
    assert main(["eval", "--predictions", str(qa), "--output_dir", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)["preds"]
    # EM: 1, 0, 0; F1: 1, 2*(1/4)/(5/4) = 0.4, 0.8; contains: 1, 1, 1.
    # contains 3/3, Wilson 95%: [3/(3 + z²), 1] = [0.4385, 1].
    assert printed == {"n": 3, "exact_match": pytest.approx(1 / 3), "f1": pytest.approx(2.2 / 3), "contains": 1.0,
                       "contains_ci": pytest.approx([0.4385, 1.0], abs=1e-4)}
    results = json.loads((out / "results.json").read_text())
    assert results["datasets"]["preds"]["records"] == 5
    assert results["datasets"]["preds"]["problems"] == [
        f"{qa}:4: missing field 'prediction'", f"{qa}:5: field 'answers' is an empty gold answer list",
    ]
    assert "2 of 5 records left out" in (out / "report.md").read_text()

    ner = write_jsonl(tmp_path / "ner.jsonl", [
        {"prediction": '[{"type": "PERSON", "value": "Ada"}]', "entities": [{"type": "PERSON", "value": "Ada"}]},
        {"prediction": "no idea", "entities": [{"type": "CITY", "value": "Oslo"}]},
    ])
    assert main(["eval", "--predictions", str(ner)]) == 0
    printed = json.loads(capsys.readouterr().out)["ner"]
    assert (printed["precision"], printed["recall"], printed["unparsable"]) == (1.0, 0.5, 1)
    assert printed["unparsable_where"] == [f"{ner}:2"]


@pytest.mark.slow
def test_generation_metrics_for_the_trainer(tiny_llama, data):
    qa, _, ner = data
    model, tokenizer = load_model(str(tiny_llama)), load_tokenizer(str(tiny_llama))
    dataset = load_eval_dataset(str(qa))
    flat = generation_metrics(model, tokenizer, dataset, batch_size=2, max_new_tokens=4)
    full = evaluate_dataset(model, tokenizer, dataset, batch_size=3, max_new_tokens=4)
    assert flat == {k: pytest.approx(full[k]) for k in ("exact_match", "f1", "contains")}
    extraction = generation_metrics(model, tokenizer, load_eval_dataset(str(ner)), max_new_tokens=4)
    assert set(extraction) == {"precision", "recall", "f1", "macro_precision", "macro_recall", "macro_f1", "unparsable"}


@pytest.mark.slow
def test_sets_asked_together_score_as_asked_apart_in_one_pass(tiny_llama, data, monkeypatch):
    qa, _, ner = data
    from knowtune.evaluate import scoring
    model, tokenizer = load_model(str(tiny_llama)), load_tokenizer(str(tiny_llama))
    sets = [load_eval_dataset(str(qa)), load_eval_dataset(str(ner))]
    apart = [generation_metrics(model, tokenizer, d, batch_size=16, max_new_tokens=6) for d in sets]
    passes = []
    decode = scoring.generate_batches
    monkeypatch.setattr(scoring, "generate_batches", lambda *a, **k: passes.append(len(a[2])) or decode(*a, **k))
    together = scoring.generation_metrics_together(model, tokenizer, sets, batch_size=16, max_new_tokens=6)
    assert together == [{k: pytest.approx(v) for k, v in m.items()} for m in apart]
    assert passes == [sum(len(d.items) for d in sets)]


@pytest.mark.slow
def test_out_of_memory_halves_the_batch_and_reports_the_size(tiny_llama, data, monkeypatch):
    qa, _, _ = data
    from knowtune.models import generate as decoding

    model, tokenizer = load_model(str(tiny_llama)), load_tokenizer(str(tiny_llama))
    greedy_rows = decoding.greedy_rows
    sizes = []

    def decode_with_little_memory(model_, input_ids, *args):
        sizes.append(len(input_ids))
        if len(input_ids) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return greedy_rows(model_, input_ids, *args)

    monkeypatch.setattr(decoding, "greedy_rows", decode_with_little_memory)
    dataset = load_eval_dataset(str(qa))
    result = evaluate_dataset(model, tokenizer, dataset, batch_size=4, shrink_on_oom=True, max_new_tokens=2)
    assert sizes == [3, 2, 1, 1, 1]  # 4 -> 2 -> 1, then the rest at 1
    assert result["batch_size"] == 1 and result["n"] == 3
    with pytest.raises(Exception, match="out of memory at batch size 4"):
        evaluate_dataset(model, tokenizer, dataset, batch_size=4, max_new_tokens=2)


def test_in_batches_keeps_the_order_and_every_item():
    seen = [(start, batch, used) for start, batch, _, used in in_batches(list("abcdefg"), 3, len)]
    assert seen == [(0, ["a", "b", "c"], 3), (3, ["d", "e", "f"], 3), (6, ["g"], 3)]


def test_bad_input_exits_2_with_one_line(tiny_llama, data, tmp_path, fails_with):
    qa, _, _ = data
    no_weights = tmp_path / "empty_model"
    no_weights.mkdir()
    (no_weights / "config.json").write_text((tiny_llama / "config.json").read_text())
    (no_weights / "training_args.bin").write_bytes(b"")
    fails_with(["eval", "--model_path", str(no_weights), "--datasets", str(qa), "--output_dir", str(tmp_path)],
               f"model path {no_weights} has no weights")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tiny_llama)}))
    fails_with(["eval", "--model_path", str(adapter), "--datasets", str(qa), "--output_dir", str(tmp_path)],
               f"model path {adapter} has no adapter weights")
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/nowhere/base"}))
    fails_with(["eval", "--model_path", str(adapter), "--datasets", str(qa), "--output_dir", str(tmp_path)],
               "adapter_config.json: its base model cannot be loaded here", "--base_model")
    fails_with(["eval", "--model_path", str(tiny_llama), "--datasets", str(tmp_path / "missing.jsonl"),
                        "--output_dir", str(tmp_path)], "missing.jsonl: no such file")
    fails_with(["eval", "--model_path", str(tiny_llama), "--datasets", str(qa)], "give --output_dir")
    fails_with(["eval", "--model_path", str(tiny_llama)], "nothing to evaluate")
    fails_with(["eval", "--datasets", str(qa), "--batch_size", "0"], "batch_size: must be a positive integer or auto")
    fails_with(["eval", "--datasets", str(qa), "--stride", "1024"], "stride (1024) must be smaller than max_length")
    fails_with(["eval", "--predictions", str(qa), "--compare-base"], "drop compare_base")
    answerless = write_jsonl(tmp_path / "answerless.jsonl", [{"question": "Q?"}])
    fails_with(["eval", "--model_path", str(tiny_llama), "--datasets", str(answerless), "--output_dir",
                        str(tmp_path)], "no dataset has a record that can be evaluated", "answerless.jsonl:1")
    fails_with(["eval", "--predictions", str(answerless)], "answerless.jsonl: no line could be scored")
    fails_with(["eval", "--model_path", str(tiny_llama), "--compare-base", "--datasets", str(qa),
                        "--output_dir", str(tmp_path)], "cannot tell which base model")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_auto_batch_size_on_a_gpu_starts_at_64(tiny_llama, data, tmp_path):
    qa, text, _ = data
    out = tmp_path / "out"
    assert main(["eval", "--model_path", str(tiny_llama), "--datasets", str(qa), str(text), "--output_dir", str(out),
                 "--max_new_tokens", "2"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["device"] == "cuda"
    assert {m["batch_size"] for m in results["results"]["model"].values()} == {64}


def test_the_retention_suite_is_asked_until_answered_and_other_sets_to_the_end(tiny_llama, data, monkeypatch):
    from knowtune.evaluate import scoring
    from knowtune.evaluate.config import EvalConfig
    from knowtune.evaluate.run import load_datasets

    qa, _, _ = data
    found = {d.name: d for d in load_datasets(EvalConfig(model_path=str(tiny_llama), datasets=[f"{qa}:qa"],
                                                         use_default_datasets=True))}
    assert found["general_knowledge"].ends_when_answered and not found["qa"].ends_when_answered
    whole = load_datasets(EvalConfig(model_path=str(tiny_llama), use_default_datasets=True, suite_whole_answers=True))
    assert not any(d.ends_when_answered for d in whole)

    model, tokenizer = load_model(str(tiny_llama)), load_tokenizer(str(tiny_llama))
    suite = found["general_knowledge"]
    suite.items = suite.items[:3]
    seen = []
    decode = scoring.generate_batches
    monkeypatch.setattr(scoring, "generate_batches", lambda *a, **k: seen.append(k["ends"]) or decode(*a, **k))
    scoring.generation_metrics_together(model, tokenizer, [found["qa"], suite], batch_size=8, max_new_tokens=3)
    assert [end is None for end in seen[0]] == [True] * len(found["qa"].items) + [False] * 3
    scoring.generation_metrics_together(model, tokenizer, [found["qa"]], batch_size=8, max_new_tokens=3)
    assert seen[1] is None


def test_results_say_where_the_evaluations_time_went(run_dir, data, tmp_path):
    qa, text, _ = data
    out = tmp_path / "timed"
    assert main(["eval", "--model_path", str(run_dir), "--datasets", str(qa), str(text), "--compare-base",
                 "--max_new_tokens", "4", "--max_length", "16", "--stride", "8", "--output_dir", str(out)]) == 0
    seconds = json.loads((out / "results.json").read_text())["seconds"]
    assert set(seconds) == {"model", "base"}
    for label in seconds:
        assert set(seconds[label]) == {"loading", "qa", "notes"} and all(v >= 0 for v in seconds[label].values())
