"""Issue 17: Wilson intervals, exact McNemar, BM25 retrieval (English and Chinese), the four-way table."""

import json

import pytest

from knowtune.cli import main
from knowtune.errors import UserError
from knowtune.evaluate.evidence import question_set, recommendation
from knowtune.evaluate.retrieval import BM25Index, Passage, read_chunks, with_context
from knowtune.evaluate.stats import accuracy, mcnemar_exact, paired, wilson_interval


def test_wilson_interval_matches_hand_computed_values():
    # 9/10, z = 1.96: centre (0.9 + z²/20) / (1 + z²/10) = 0.78898, half-width
    # z·sqrt(0.9·0.1/10 + z²/400) / (1 + z²/10) = 0.19314.
    assert wilson_interval(9, 10) == pytest.approx((0.59585, 0.98212), abs=1e-5)
    # 0/10: [0, z²/10 / (1 + z²/10)] = [0, 0.27753]; n/n mirrors it.
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson_interval(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-5)
    # 33/36, the demo's retention: centre (0.91667 + 0.05335) / 1.10671 = 0.87649, half-width
    # 1.96·sqrt(0.0021219 + 0.00074102) / 1.10671 = 0.09476.
    assert wilson_interval(33, 36) == pytest.approx((0.78174, 0.97125), abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(3, 0)


def test_exact_mcnemar_matches_the_binomial_tail():
    assert mcnemar_exact(0, 3) == pytest.approx(0.25)  # 2 · (1/2)³: "retention fell 3/36, p = 0.25"
    assert mcnemar_exact(1, 5) == pytest.approx(14 / 64)  # 2 · (C(6,0) + C(6,1)) / 2⁶
    assert mcnemar_exact(8, 0) == pytest.approx(2 / 256)
    assert mcnemar_exact(2, 2) == 1.0 and mcnemar_exact(0, 0) == 1.0
    assert paired([1, 1, 0, 0, 1], [1, 0, 1, 1, 1]) == {"gained": 2, "lost": 1, "p_value": 1.0}
    assert accuracy([True] * 9 + [False]) == pytest.approx(
        {"n": 10, "correct": 9, "accuracy": 0.9, "ci_low": 0.59585, "ci_high": 0.98212}, abs=1e-5)


CORPUS = [
    Passage("bridge.md", 0, "The Zorblat bridge over the Vell river opened in 1873."),
    Passage("bridge.md", 1, "Its architect, Maria Lenz, also designed the Quill bakery."),
    Passage("bakery.md", 0, "The Quill bakery employs 417 people and bakes rye bread."),
    Passage("城市.md", 0, "长江是中国最长的河流，流经上海。"),
    Passage("城市.md", 1, "北京是中国的首都，有故宫和长城。"),
    Passage("城市.md", 2, "熊猫生活在四川的竹林里。"),
]


def test_bm25_top_k_in_english_and_chinese():
    index = BM25Index(CORPUS)
    found = index.search(["When did the Zorblat bridge open?", "How many people does the Quill bakery employ?",
                          "中国的首都是哪里？", "熊猫住在哪里？"], k=2)
    assert found[0][0] == CORPUS[0]
    assert found[1][0] == CORPUS[2] and found[1][1] == CORPUS[1]  # both name the bakery; "employ" ranks 417 first
    assert found[2][0] == CORPUS[4]  # per-character tokens: 首都 matches without word segmentation
    assert found[3] == [CORPUS[5]]  # only passages sharing a term come back
    assert index.search(["what is the"], k=3) == [[]]  # stopwords only: nothing retrieved
    assert with_context("Q?", CORPUS[:2]) == f"{CORPUS[0].text}\n\n{CORPUS[1].text}\n\nQ?"


def test_a_bad_chunks_file_names_its_line(tmp_path):
    path = tmp_path / "chunks.jsonl"
    path.write_text('{"document": "a.md", "chunk": 0, "text": "x"}\n{"document": "a.md"}\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"chunks.jsonl:2: not a chunk record"):
        read_chunks(path)


def test_question_set_and_what_to_ship():
    base, tuned = [False] * 10, [True] * 9 + [False]
    base_r, tuned_r = [True] * 6 + [False] * 4, [True] * 10
    entry = question_set({"base": base, "tuned": tuned, "base_retrieval": base_r, "tuned_retrieval": tuned_r})
    assert entry["n"] == 10 and entry["tuned"]["correct"] == 9 and entry["base_retrieval"]["ci_low"] == pytest.approx(0.31267, abs=1e-4)
    assert entry["mcnemar"] == {"gained": 9, "lost": 0, "p_value": pytest.approx(2 / 512)}
    # Best: tuned + retrieval (10/10); the best simpler way is tuned (9/10): 1 gained, 0 lost, p = 1.
    assert entry["ship"] == {"choice": "tuned_retrieval", "runner_up": "tuned",
                             "mcnemar": {"gained": 1, "lost": 0, "p_value": 1.0}}
    line = recommendation(entry)
    assert line.startswith("Ship: the tuned model with retrieval: 10/10") and "not distinguishable from noise" in line
    # Equal scores go to the simpler way.
    tie = question_set({"base": base, "tuned": base_r, "base_retrieval": base_r, "tuned_retrieval": base_r})
    assert tie["ship"]["choice"] == "base_retrieval" and tie["ship"]["mcnemar"]["p_value"] == pytest.approx(2 / 64)


def test_eval_with_retrieval_asks_four_ways_and_records_intervals(tiny_run, tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bridge.md").write_text(CORPUS[0].text + " " + CORPUS[1].text + "\n\n" + CORPUS[2].text + "\n")
    qa = tmp_path / "heldout.jsonl"
    qa.write_text("".join(json.dumps(r) + "\n" for r in [
        {"question": "When did the Zorblat bridge open?", "answer": "1873"},
        {"question": "How many people work at the Quill bakery?", "answer": "417"},
    ]))
    out = tmp_path / "eval"
    assert main(["eval", "--model_path", str(tiny_run), "--datasets", str(qa), "--compare-base", "--retrieval", str(docs),
                 "--retrieval_top_k", "1", "--retrieval_chunk_tokens", "24", "--max_new_tokens", "3",
                 "--output_dir", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    entry = results["question_sets"]["heldout"]
    assert entry["n"] == 2 and set(entry) >= {"base", "tuned", "base_retrieval", "tuned_retrieval", "mcnemar", "ship"}
    for way in ("base", "tuned", "base_retrieval", "tuned_retrieval"):
        assert set(entry[way]) == {"n", "correct", "accuracy", "ci_low", "ci_high"}
    assert results["results"]["model"]["heldout"]["contains_ci"] == [entry["tuned"]["ci_low"], entry["tuned"]["ci_high"]]
    asked = [json.loads(line) for line in (out / "predictions/base/heldout.retrieval.jsonl").read_text().splitlines()]
    assert asked[0]["retrieved"] == [f"{docs / 'bridge.md'}#0"] and len(asked[1]["retrieved"]) == 1
    report = (out / "report.md").read_text()
    assert "fine-tuning vs retrieval" in report and "base model + retrieval" in report and "Ship:" in report


def test_retrieval_needs_compare_base(tiny_run, tmp_path, fails_with):
    fails_with(["eval", "--model_path", str(tiny_run), "--datasets", "x.jsonl", "--retrieval", "docs"],
               "retrieval", "compare_base")


def test_base_answers_with_and_without_retrieval_are_kept_for_a_copy_of_the_questions_elsewhere(
        tiny_run, tmp_path, capsys, monkeypatch):
    import knowtune.evaluate.run as evaluate_run

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bridge.md").write_text(CORPUS[0].text + " " + CORPUS[1].text + "\n\n" + CORPUS[2].text + "\n")
    questions = "".join(json.dumps(r) + "\n" for r in [
        {"question": "When did the Zorblat bridge open?", "answer": "1873"},
        {"question": "How many people work at the Quill bakery?", "answer": "417"}])
    outputs = {}
    for run in ("first", "second"):  # as `knowtune run` copies its test questions into each run directory
        (tmp_path / run).mkdir()
        (tmp_path / run / "test.jsonl").write_text(questions)
        outputs[run] = tmp_path / run / "eval"
        assert main(["eval", "--model_path", str(tiny_run), "--datasets", str(tmp_path / run / "test.jsonl"),
                     "--compare-base", "--retrieval", str(docs), "--retrieval_top_k", "1", "--retrieval_chunk_tokens",
                     "24", "--max_new_tokens", "3", "--output_dir", str(outputs[run])]) == 0
        if run == "first":
            capsys.readouterr()

            def counted(*args, real=evaluate_run.answer_with_retrieval):
                asked.append(args[0])
                return real(*args)

            asked = []
            monkeypatch.setattr(evaluate_run, "answer_with_retrieval", counted)
    assert len(asked) == 1  # the tuned model; the base model's answers with retrieval were kept
    shown = capsys.readouterr().out
    assert "[base] test: the answers of an earlier evaluation" in shown
    assert "[base] test with retrieval: the answers of an earlier evaluation" in shown
    for name in ("test.jsonl", "test.retrieval.jsonl"):
        first, second = ([json.loads(line) for line in (outputs[run] / "predictions" / "base" / name).read_text().splitlines()]
                         for run in ("first", "second"))
        assert [r["prediction"] for r in first] == [r["prediction"] for r in second]
        assert {r["where"].split(":")[0] for r in second} == {str(tmp_path / "second" / "test.jsonl")}
    results = [json.loads((outputs[run] / "results.json").read_text())["question_sets"]["test"] for run in outputs]
    assert results[0]["base_retrieval"] == results[1]["base_retrieval"]
