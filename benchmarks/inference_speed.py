"""Tokens per second of one tuned model through transformers and through llama.cpp (GGUF f16 and q8_0).

    .venv/bin/python benchmarks/inference_speed.py RUN_DIR|MODEL [--prompts 8] [--new_tokens 64]

The model (a run's adapter merged into its base, or a model directory) is saved once, converted to
GGUF f16 and q8_0 by llama.cpp's converter (as `knowtune export` does), and all three answer the
same chat prompts (the shipped general-knowledge questions) one at a time, as in a chat, greedily.
Each reply is exactly --new_tokens long (the end-of-sequence token is forbidden), so every engine
does the same work; tokens/s counts generated tokens over the whole call, prompt reading included.
The engines take turns prompt by prompt, so a job that competes for the cores for a while slows
all three alike. Both engines use the same number of threads (torch's).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from knowtune.deploy import gguf
from knowtune.deploy.source import load_source, resolve_source
from knowtune.evaluate.eval_data import load_eval_dataset, suite_path


def transformers_reply(model, tokenizer, messages, new_tokens: int) -> int:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**inputs, do_sample=False, min_new_tokens=new_tokens, max_new_tokens=new_tokens,
                             pad_token_id=tokenizer.pad_token_id)
    return out.shape[1] - inputs["input_ids"].shape[1]


def llama_reply(llm, messages, new_tokens: int) -> int:
    out = llm.create_chat_completion(messages=messages, temperature=0.0, max_tokens=new_tokens,
                                     logit_bias={llm.token_eos(): float("-inf")})
    return out["usage"]["completion_tokens"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="a run directory or model directory")
    parser.add_argument("--prompts", type=int, default=8, help="questions asked of each engine")
    parser.add_argument("--new_tokens", type=int, default=64, help="tokens generated per reply")
    args = parser.parse_args()

    source = resolve_source(args.path)
    model, tokenizer = load_source(source)
    model.eval()
    items = load_eval_dataset(suite_path("general_knowledge.jsonl"), "qa").items[: args.prompts]
    threads = torch.get_num_threads()
    llama_cpp = gguf.require_llama_cpp()
    with tempfile.TemporaryDirectory() as tmp:
        merged = Path(tmp) / "merged"
        model.save_pretrained(merged)
        tokenizer.save_pretrained(merged)
        engines = {"transformers (float32)": lambda m: transformers_reply(model, tokenizer, m, args.new_tokens)}
        for outtype in ("f16", "q8_0"):
            path = Path(tmp) / f"model-{outtype}.gguf"
            gguf.convert(merged, path, outtype)
            llm = llama_cpp.Llama(model_path=str(path), n_ctx=1024, n_threads=threads, seed=0, verbose=False)
            engines[f"llama.cpp (GGUF {outtype})"] = lambda m, llm=llm: llama_reply(llm, m, args.new_tokens)
        for reply in engines.values():  # warm-up: first-call allocations are not what a user waits for
            reply(items[0].prompt)
        seconds, tokens = dict.fromkeys(engines, 0.0), dict.fromkeys(engines, 0)
        for item in items:
            for name, reply in engines.items():
                start = time.perf_counter()
                tokens[name] += reply(item.prompt)
                seconds[name] += time.perf_counter() - start
    print(f"{source.model_dir}: {len(items)} prompts x {args.new_tokens} new tokens, one at a time, {threads} threads")
    base = tokens["transformers (float32)"] / seconds["transformers (float32)"]
    for name in engines:
        rate = tokens[name] / seconds[name]
        print(f"{name:<26} {rate:8.1f} tokens/s  ({rate / base:.2f}x transformers)")


if __name__ == "__main__":
    main()
