"""Held-out accuracy of a run's adapter and of its exports, each loaded with its own library only.

    .venv/bin/python benchmarks/export_agreement.py RUN_DIR EXPORT ... [--heldout FILE]

An outside check of `knowtune export`: no knowtune code loads a model, renders a prompt or scores a
reply here. The adapter loads with peft onto the base its adapter_config.json names; a merged export
with transformers' AutoModelForCausalLM; a GGUF with llama-cpp-python, using the chat template stored
in the file. Each answers the run's graded questions (RUN_DIR/test.jsonl that `knowtune run` writes, else
RUN_DIR/heldout.jsonl; --heldout for a `knowtune train` run or any other file) greedily (64 new tokens) and a reply counts when it
contains the answer, case and punctuation aside. Prints one line per model.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path


def normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def transformers_replies(model, tokenizer, questions: list[str]) -> list[str]:
    import torch

    replies = []
    for question in questions:
        ids = tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True,
                                            return_tensors="pt", return_dict=True)
        with torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=64, do_sample=False, pad_token_id=tokenizer.eos_token_id)
        replies.append(tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    return replies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("exports", nargs="+", type=Path, help="merged export folders and .gguf files")
    parser.add_argument("--heldout", type=Path, help="QA JSONL to ask (default RUN_DIR/test.jsonl, else heldout.jsonl)")
    args = parser.parse_args()
    heldout = args.heldout or next((p for p in (args.run_dir / "test.jsonl", args.run_dir / "heldout.jsonl") if p.is_file()),
                                   args.run_dir / "test.jsonl")
    records = [json.loads(line) for line in heldout.read_text().splitlines() if line.strip()]
    questions = [r["question"] for r in records]

    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = args.run_dir / "final_model"
    base = json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
    models = {str(adapter): lambda: transformers_replies(
        PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter),
        AutoTokenizer.from_pretrained(adapter), questions)}
    for path in args.exports:
        if path.suffix == ".gguf":
            def ask_gguf(path=path):
                from llama_cpp import Llama

                llm = Llama(model_path=str(path), n_ctx=2048, seed=0, verbose=False)
                return [llm.create_chat_completion(messages=[{"role": "user", "content": q}], temperature=0.0,
                                                   max_tokens=64)["choices"][0]["message"]["content"] for q in questions]
            models[str(path)] = ask_gguf
        else:
            models[str(path)] = lambda path=path: transformers_replies(
                AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path), questions)
    for name, ask in models.items():
        replies = ask()
        right = sum(normal(r["answer"]) in normal(reply) for r, reply in zip(records, replies))
        print(f"{right}/{len(records)} held-out answered  {name}", flush=True)


if __name__ == "__main__":
    main()
