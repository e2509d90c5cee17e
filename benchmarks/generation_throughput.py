"""Q&A pairs generated per second: batched vs one prompt at a time (hf), concurrent vs sequential (openai).

    .venv/bin/python benchmarks/generation_throughput.py [--facts 16] [--batch_size 16] [--concurrency 8]

Both halves run `knowtune generate`'s pair stage with its default settings: the questions of
role_amount_per_fact personas about each fact, then the answer to every question, through the
same Caller and parsers as a real run, each mode with an empty cache of its own. The facts are
the first sentences of the demo corpus.

- hf: the shipped default model on this machine's CPU (or GPU), batch_size N versus 1, in one
  process with one loaded model.
- openai: a local OpenAI-compatible server that takes `--latency` seconds per request and serves
  requests in parallel, as vLLM or a hosted API do; `--concurrency` requests in flight versus 1.
  It measures the client side (the official client, the thread pool, the cache), not a model.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import torch

from knowtune.config import load_config
from knowtune.data.chunk import sentence_spans
from knowtune.data.ingest import read_documents
from knowtune.synth.backends import HFBackend, OpenAIBackend
from knowtune.synth.calls import Call, CallCache, Caller
from knowtune.synth.config import BackendSettings, GenerateConfig
from knowtune.synth.parse import parse_answer, parse_questions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fake_openai import FakeServer  # noqa: E402 (the tests' OpenAI-compatible server)

CORPUS = Path(__file__).resolve().parents[1] / "examples" / "demo" / "corpus"


def demo_facts(n: int) -> list[str]:
    documents, _ = read_documents([str(CORPUS)], ["md"])
    sentences = [d.text[a:b] for d in documents for a, b in sentence_spans(d.text)]
    return [s for s in sentences if len(s.split()) >= 6][:n]


def pairs_per_second(backend, cfg: GenerateConfig, facts: list[str]) -> tuple[int, float]:
    """Generate the questions of each fact's personas and their answers; return (pairs, seconds)."""
    def user(text: str) -> list[dict[str, str]]:
        return [{"role": "user", "content": text}]

    q, a, n = cfg.prompts.questions, cfg.prompts.answer, cfg.qa_amount_per_fact
    with tempfile.TemporaryDirectory() as tmp:
        caller = Caller(backend, CallCache(Path(tmp) / "cache.sqlite"), max_attempts=1, reask=cfg.prompts.reask)
        start = time.perf_counter()
        jobs = [(f, persona) for f in facts for persona in cfg.personas[: cfg.role_amount_per_fact]]
        calls = [Call(f"questions {i}", user(q.template.format(fact=f, persona=persona, n=n, summary="")),
                      parse_questions) for i, (f, persona) in enumerate(jobs)]
        asked = caller.ask(calls, q.max_new_tokens * n, "questions", "fact x persona")
        questions = [(f, question) for (f, _), found in zip(jobs, asked) for question in (found or [])[:n]]
        calls = [Call(f"answer {i}", user(a.template.format(fact=f, question=question, summary="")), parse_answer)
                 for i, (f, question) in enumerate(questions)]
        answers = caller.ask(calls, a.max_new_tokens, "answers", "question")
        seconds = time.perf_counter() - start
        caller.cache.close()
    return sum(answer is not None for answer in answers), seconds


def latency_server(latency: float) -> FakeServer:
    """An OpenAI-compatible server that answers after a fixed delay, many requests at once."""
    def reply(prompt: str) -> str:
        if prompt.startswith("Read this fact"):
            fact = re.search(r'"(.*)"', prompt).group(1)
            return f"1. What does the fact say about {fact.split()[0]}?\n2. Which detail ends '{fact[:20]}'?"
        return "A few words from the fact."

    return FakeServer(reply, delay=latency)


def warm_up(backend) -> None:
    """One tiny request first: lazy imports and first-call set-up are not what is measured."""
    list(backend.generate([[{"role": "user", "content": "Hello"}]], max_new_tokens=2))


def compare(rows: list, label: str, fast: tuple[str, object], slow: tuple[str, object], rounds: int, run) -> None:
    """Alternate the two modes `rounds` times, so that load from other processes falls on both alike."""
    totals = {fast[0]: [0, 0.0], slow[0]: [0, 0.0]}
    for _ in range(rounds):
        for name, setting in (fast, slow):
            pairs, seconds = run(setting)
            rows.append((name, pairs, seconds))
            totals[name][0] += pairs
            totals[name][1] += seconds
    rate = {name: pairs / seconds for name, (pairs, seconds) in totals.items()}
    rows.append((f"**{label}: {fast[0]} vs {slow[0]}**", None, rate[fast[0]] / rate[slow[0]]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facts", type=int, default=16, help="facts to write pairs about")
    parser.add_argument("--batch_size", type=int, default=BackendSettings().batch_size, help="hf: batched mode's size")
    parser.add_argument("--concurrency", type=int, default=8, help="openai: requests in flight in the concurrent mode")
    parser.add_argument("--latency", type=float, default=0.2, help="openai: seconds the local server takes per request")
    parser.add_argument("--rounds", type=int, default=2, help="times each mode runs, alternating")
    parser.add_argument("--model", default="smollm2-135m-instruct", help="hf: the model")
    parser.add_argument("--skip_hf", action="store_true", help="only the openai half (no model needed)")
    args = parser.parse_args()
    facts = demo_facts(args.facts)
    load_before, rows = os.getloadavg()[0], []

    if not args.skip_hf:
        cfg = load_config(GenerateConfig, None, ["data_path=unused", f"model_name_or_path={args.model}"])
        backend = HFBackend(args.model, args.batch_size, temperature=0.0)  # one loaded model for both modes
        warm_up(backend)

        def hf(batch_size):
            backend.batch_size = batch_size
            return pairs_per_second(backend, cfg, facts)

        modes = (f"hf batch_size={args.batch_size}", args.batch_size), ("hf batch_size=1", 1)
        compare(rows, "hf", *modes, args.rounds, hf)

    server = latency_server(args.latency)

    def openai(concurrency):
        cfg = load_config(GenerateConfig, None, ["data_path=unused", "model_type=openai", "model_name_or_path=bench",
                                                 f"backend.base_url={server.url}", f"backend.concurrency={concurrency}"])
        backend = OpenAIBackend("bench", cfg)
        warm_up(backend)
        return pairs_per_second(backend, cfg, facts)

    modes = (f"openai concurrency={args.concurrency}", args.concurrency), ("openai concurrency=1", 1)
    compare(rows, "openai", *modes, args.rounds, openai)

    defaults = GenerateConfig(data_path=["unused"])
    print(f"\n{len(facts)} facts, role_amount_per_fact={defaults.role_amount_per_fact}, qa_amount_per_fact="
          f"{defaults.qa_amount_per_fact}, {args.rounds} alternating rounds per mode; "
          f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, load average {load_before:.1f} before and "
          f"{os.getloadavg()[0]:.1f} after; openai server latency {args.latency} s/request\n")
    print("| mode | pairs | seconds | pairs/s |\n|---|---|---|---|")
    for name, pairs, seconds in rows:
        if pairs is None:
            print(f"| {name} | | | **{seconds:.1f}x** |")
        else:
            print(f"| {name} | {pairs} | {seconds:.1f} | {pairs / seconds:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
