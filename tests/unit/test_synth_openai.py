"""`knowtune generate` with the openai backend, against a local OpenAI-compatible server started here.

The server plays a deterministic "model" that follows the shipped prompts, and injects the faults
a real server shows: 503s, 429s, connections dropped before or in the middle of a reply, replies
slower than the client's timeout, bodies that are not JSON, bodies without choices, and model
replies that cannot be parsed. The output must not change:
no record lost, none duplicated. A run that is killed midway and started again must give the
same files and must not send again any call that had finished.
"""

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_openai import FakeServer

from knowtune.config import load_config
from knowtune.errors import UserError
from knowtune.synth.config import GenerateConfig
from knowtune.synth.curate import content_words
from knowtune.synth.run import run

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "examples" / "demo" / "corpus"
OUTPUTS = ("train.jsonl", "heldout.jsonl", "rejected.jsonl", "coverage.json", "coverage.md")


def fake_model(prompt: str) -> str:
    """Replies as a model following the shipped prompts would; nonsense to anything else.

    Facts are the text's sentences. A question quotes the start of its fact and asks for the next
    word, when that word is a content word; the answer is that word.
    """
    if prompt.startswith("Text:\n") and "List every fact" in prompt:
        text = prompt[len("Text:\n") : prompt.index("\n\nList every fact")]
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])(?<!Dr\.)\s+", text) if len(s.split()) >= 4]
        return "\n".join(f"- {s}" for s in sentences)
    if found := re.match(r'Read this fact: "(.*)"\nWrite (\d+) different quiz questions about it that (.*) would ask', prompt):
        fact, n, persona = found.group(1), int(found.group(2)), found.group(3)
        words = re.findall(r"[\w'-]+", fact)
        asked = [k for k in range(1, len(words) - 1) if content_words(words[k + 1]) and words[k + 1] not in words[: k + 1]]
        return "\n".join(f"{i + 1}. {persona.split()[-1]}: {' '.join(words[: k + 1])} what?" for i, k in enumerate(asked[:n]))
    if found := re.match(r"Fact: (.*)\nQuestion: \w+: (.*) what\?", prompt):
        words = re.findall(r"[\w'-]+", found.group(1))
        return words[len(found.group(2).split())]
    return "Sorry, I cannot help with that."


@pytest.fixture
def serve():
    servers = []

    def start(**kwargs):
        servers.append(FakeServer(fake_model, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def overrides(server, save_dir, tokenizer, *extra):
    return [
        f"data_path={CORPUS}", "model_type=api", "model_name_or_path=fake-model", f"tokenizer={tokenizer}",
        f"backend.base_url={server.url}", "backend.api_key_env=KNOWTUNE_TEST_KEY", "backend.concurrency=4",
        "backend.timeout_s=0.5", "backend.max_retries=2", "chunk_size_by_token=120", f"save_dir={save_dir}", *extra,
    ]


def generate(server, save_dir, tokenizer, *extra):
    return run(load_config(GenerateConfig, None, overrides(server, save_dir, tokenizer, *extra)))


def cached(save_dir: Path) -> set[str]:
    """The conversations whose replies are in the cache, as FakeServer.prompts() writes them."""
    db = sqlite3.connect(save_dir / "cache.sqlite")
    try:
        return {json.dumps(json.loads(r)["messages"], sort_keys=True) for (r,) in db.execute("SELECT request FROM calls")}
    finally:
        db.close()


def outputs(save_dir: Path) -> dict[str, str]:
    return {name: (save_dir / name).read_text(encoding="utf-8") for name in OUTPUTS}


def unquoted(files: dict[str, str]) -> dict[str, str]:
    """The outputs with the unusable replies they quote left out: which request draws the "unparseable"
    fault depends on timing, so a skipped call may quote that reply instead of the model's."""
    return {name: re.sub(r"nothing usable in the reply .*", "nothing usable", text) for name, text in files.items()}


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_clean_run_writes_a_split_with_provenance(serve, tiny_llama, tmp_path):
    server = serve(delay=0.02)
    # The model's own questions and answers only, one held-out pair per fact (seed 002's split).
    result = generate(server, tmp_path / "out", tiny_llama, "question_source=model", "heldout_per_fact=1",
                      "min_train_pairs_per_fact=1")
    assert 1 < server.most_in_flight <= 4  # backend.concurrency=4
    totals = result.coverage["totals"]
    train, heldout = records(tmp_path / "out" / "train.jsonl"), records(tmp_path / "out" / "heldout.jsonl")
    listed = [f for f in result.coverage["facts"] if "/f" in f["fact_id"] and f["dropped"] is None]
    assert len(listed) >= 8 and all(f["pairs_kept"] for f in listed)  # every fact the model listed has pairs
    assert len(train) == totals["train"] > 0 and len(heldout) == totals["heldout"] > 0
    for record in train + heldout:
        assert set(record) >= {"question", "answer", "fact", "fact_id", "document", "chunk", "persona"}
        # A fact the model listed (/fN), or a sentence no listed fact covered (/sN): nothing of the text is lost.
        assert re.match(rf"{re.escape(record['document'])}#{record['chunk']}/[fs]\d+$", record["fact_id"])
        assert record["answer"].lower() in record["fact"].lower()
    # Every fact with two or more pairs is asked about in heldout.jsonl, with another wording than in train.
    for fact in result.coverage["facts"]:
        if fact["pairs_kept"] >= 2:
            assert fact["heldout"] == 1 and fact["train"] == fact["pairs_kept"] - 1
    train_questions = {r["question"] for r in train}
    assert not any(r["question"] in train_questions for r in heldout)
    # The report counts what was dropped, and why; personas rotate over the facts.
    assert totals["pairs_generated"] == totals["pairs_kept"] + sum(result.coverage["dropped_pairs"].values())
    assert len({r["persona"] for r in train + heldout}) >= 4


@pytest.mark.slow
def test_faults_lose_and_duplicate_nothing(serve, tiny_llama, tmp_path):
    clean = generate(serve(), tmp_path / "clean", tiny_llama)
    faults = {1: "503", 2: "timeout", 3: "bad_json", 4: "no_choices", 5: "unparseable", 9: "503", 10: "503",
              14: "bad_json", 20: "timeout", 25: "unparseable", 31: "no_choices"}
    server = serve(faults=faults)
    result = generate(server, tmp_path / "faulty", tiny_llama)

    assert {fault for _, fault, _, _ in server.log if fault} == {"503", "timeout", "bad_json", "no_choices", "unparseable"}
    # The only calls skipped are those the clean run skipped too (chunks whose facts all begin with a pronoun).
    # (Which request draws the "unparseable" fault depends on timing, so the reason quoted may be that reply.)
    assert [s["request"] for s in result.coverage["skipped_calls"]] == [s["request"] for s in clean.coverage["skipped_calls"]]
    assert unquoted(outputs(tmp_path / "faulty")) == unquoted(outputs(tmp_path / "clean"))
    for name in ("train.jsonl", "heldout.jsonl"):
        questions = [r["question"] for r in records(tmp_path / "faulty" / name)]
        assert len(questions) == len(set(questions))


@pytest.mark.slow
def test_a_flaky_server_drops_rate_limits_and_stalls_yet_every_record_comes_once(serve, tiny_llama, tmp_path):
    clean = generate(serve(), tmp_path / "clean", tiny_llama)
    faults = {1: "drop", 2: "429", 3: "cut", 4: "503", 5: "timeout", 7: "drop", 8: "429", 11: "cut", 12: "timeout",
              16: "429", 19: "drop", 23: "503", 27: "cut"}
    server = serve(faults=faults)
    result = generate(server, tmp_path / "flaky", tiny_llama)

    assert {fault for _, fault, _, _ in server.log if fault} == {"drop", "429", "cut", "503", "timeout"}
    answered = {json.dumps(m, sort_keys=True): n for n, fault, m, _ in server.log if fault is None}
    for n, fault, messages, _ in server.log:  # every conversation that met a fault was sent again, and answered
        assert fault is None or answered.get(json.dumps(messages, sort_keys=True), 0) > n, (n, fault)
    # (Which request draws the "unparseable" fault depends on timing, so the reason quoted may be that reply.)
    assert [s["request"] for s in result.coverage["skipped_calls"]] == [s["request"] for s in clean.coverage["skipped_calls"]]
    assert outputs(tmp_path / "flaky") == outputs(tmp_path / "clean")
    for name in ("train.jsonl", "heldout.jsonl", "rejected.jsonl"):
        keys = [(r["fact_id"], r["question"]) for r in records(tmp_path / "flaky" / name)]
        assert len(keys) == len(set(keys)), f"a record is duplicated in {name}"


@pytest.mark.slow
def test_a_request_that_keeps_failing_is_skipped_and_done_by_the_next_run(serve, tiny_llama, tmp_path, capsys):
    generate(serve(), tmp_path / "clean", tiny_llama)
    broken = serve(fail_if="Oskerby")
    result = generate(broken, tmp_path / "out", tiny_llama, "backend.max_retries=0", "max_attempts=2")

    failed = [s for s in result.coverage["skipped_calls"] if s["reason"].startswith("HTTP 503")]
    assert any(s["request"].startswith("facts of ") and "tarnwick" in s["request"] for s in failed)
    assert "skipped facts of" in capsys.readouterr().err
    assert "## Skipped model calls" in (tmp_path / "out" / "coverage.md").read_text()

    done = cached(tmp_path / "out")
    healthy = serve()
    generate(healthy, tmp_path / "out", tiny_llama)
    assert outputs(tmp_path / "out") == outputs(tmp_path / "clean")
    # Only what had failed, and what depended on it, was asked again.
    assert healthy.log and not healthy.prompts() & done


@pytest.mark.slow
def test_killed_run_resumes_without_repeating_finished_calls(serve, tiny_llama, tmp_path):
    reference = serve()
    generate(reference, tmp_path / "reference", tiny_llama)
    total = len(reference.log)

    def cli(server):
        argv = overrides(server, tmp_path / "out", tiny_llama, "backend.concurrency=2")
        return [sys.executable, "-m", "knowtune", "generate", *argv]

    slow = serve(delay=0.05)
    process = subprocess.Popen(cli(slow), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(slow.log) < total // 2 and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(slow.log) < total, "the run finished before it could be killed"
    finished = cached(tmp_path / "out")
    assert finished, "nothing was cached before the kill"

    again = serve()
    result = subprocess.run(cli(again), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert outputs(tmp_path / "out") == outputs(tmp_path / "reference")
    assert not finished & again.prompts(), "a call that had finished was sent again"
    assert len(finished) + len(again.log) == total


@pytest.mark.slow
def test_the_api_key_is_used_but_never_written(serve, tiny_llama, tmp_path, monkeypatch, capsys):
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("KNOWTUNE_TEST_KEY", secret)
    server = serve(fail_if="Daskarn")
    generate(server, tmp_path / "out", tiny_llama, "backend.max_retries=0", "max_attempts=1")

    assert {auth for *_, auth in server.log} == {f"Bearer {secret}"}
    assert "(key Bearer ***)" in (tmp_path / "out" / "coverage.md").read_text()
    captured = capsys.readouterr()
    assert secret not in captured.out + captured.err
    for path in (tmp_path / "out").iterdir():
        assert secret.encode() not in path.read_bytes(), path.name


def test_errors_that_would_repeat_for_every_call_stop_the_run(serve, tiny_llama, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UserError, match=r"set \$OPENAI_API_KEY"):
        run(load_config(GenerateConfig, None, [f"data_path={CORPUS}", "model_type=openai", f"tokenizer={tiny_llama}",
                                               f"save_dir={tmp_path / 'a'}"]))

    closed = serve()
    closed.close()
    with pytest.raises(UserError, match=r"cannot reach http://127\.0\.0\.1"):
        generate(closed, tmp_path / "b", tiny_llama, "backend.max_retries=0")
