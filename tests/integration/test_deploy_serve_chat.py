"""knowtune serve (asked with the official openai client, and by knowtune generate's openai backend) and
knowtune chat (driven through a pseudo-terminal), each through the real CLI in its own process."""

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from run_cli import REPO, knowtune

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed (`make install`)")
def test_serve_answers_a_heldout_question_and_stops_cleanly(quickstart, fails_with):
    """The quickstart run served through its checked GGUF export, asked the questions it was not trained on by
    the official openai client, plain and streamed, and by knowtune's own openai backend."""
    import openai

    from knowtune.synth.backends import OpenAIBackend
    from knowtune.synth.config import GenerateConfig

    # Checked on its 8 held-out questions and the first 100 general ones (the whole suite takes minutes more).
    exported = knowtune("export", str(quickstart.run_dir), "--format", "gguf", "--max-questions", "100")
    assert exported.returncode == 0, exported.stderr[-3000:]
    report = json.loads((quickstart.run_dir / "export" / "gguf-f16" / "verify.json").read_text())
    assert report["passed"] and [len(report["reference"][n]) for n in ("heldout", "retention")] == [8, 100]
    heldout = [json.loads(line) for line in (REPO / "examples/demo/heldout.jsonl").read_text(encoding="utf-8").splitlines()]
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "knowtune", "serve", str(quickstart.run_dir), "--port", str(port),
                               "--model-alias", "quickstart"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=120)
        deadline = time.monotonic() + 300  # a loaded machine imports slowly
        while True:
            try:
                assert [m.id for m in client.models.list().data] == ["quickstart"]
                break
            except openai.APIConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    pytest.fail(f"the server did not come up:\n{server.communicate()[0][-3000:]}")
                time.sleep(0.5)

        def ask(record, **kwargs):
            question = [{"role": "user", "content": record["question"]}]
            return client.chat.completions.create(model="quickstart", messages=question, temperature=0, max_tokens=32,
                                                  **kwargs)

        answered = [r for r in heldout if r["answer"].lower() in ask(r).choices[0].message.content.lower()]
        assert len(answered) >= len(heldout) - 2, answered  # the run answered 7 or 8 of 8 through transformers
        record = answered[0]
        plain = ask(record).choices[0].message.content
        streamed = [chunk.choices[0].delta.content or "" for chunk in ask(record, stream=True) if chunk.choices]
        assert len(streamed) > 2 and "".join(streamed).strip() == plain.strip()
        # knowtune generate's openai backend, pointed at the server.
        cfg = GenerateConfig(data_path=[str(REPO / "examples/demo/corpus")], model_type="openai", model_name_or_path="quickstart",
                             backend={"base_url": f"http://127.0.0.1:{port}/v1", "temperature": 0})
        [(index, answer)] = list(OpenAIBackend("quickstart", cfg).generate([[{"role": "user", "content": record["question"]}]], 32))
        assert index == 0 and record["answer"] in answer
        fails_with(["serve", str(quickstart.run_dir), "--port", str(port)], f"cannot listen on 127.0.0.1:{port}")
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=60)[0]
    assert server.returncode == 0 and "Server stopped" in output, output
    assert "no checked GGUF export yet" not in output  # it served the export that passed its check
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # the port is free again


def test_chat_streams_keeps_history_and_exits(tiny_llama):
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = pexpect.spawn(sys.executable, ["-m", "knowtune", "chat", str(tiny_llama), "--max-new-tokens", "6"],
                          env=env, encoding="utf-8", timeout=300)
    try:
        child.expect_exact("you> ")
        child.sendline("hello")
        child.expect_exact("tuned> ")
        child.expect_exact("you> ")
        child.sendline("/reset")
        child.expect_exact("(history cleared)")
        child.sendline("/exit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    # A closed stdin (Ctrl-D) ends it cleanly too.
    done = subprocess.run([sys.executable, "-m", "knowtune", "chat", str(tiny_llama)], input="", text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr
