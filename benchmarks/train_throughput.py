"""SFT training throughput: knowtune's default path vs the Trainer + PEFT scripts users run today.

    .venv/bin/python benchmarks/train_throughput.py [--steps 2] [--rounds 2] [--max_seq_length N] [--json PATH]

One workload, three ways to train it, interleaved (a, b, c, a, b, c, ...), each run in a fresh
process so that no variant trains on memory another one left behind:

- (a) padded: transformers Trainer + PEFT LoRA, every sample padded to max_seq_length, as the
  seeds' scripts do (tokenizer padding="max_length");
- (b) dynamic: the same with DataCollatorForSeq2Seq, each batch padded to its longest sample;
- (c) knowtune: knowtune's own default path (trainer_args, build_datasets, build_model and the
  trainer class of knowtune.train.recipe), only the step count and the data set here.

All three train the same tokenized samples (knowtune's, so the loss masks are the same) with the
same LoRA settings, learning rate, batch size and seed. Each train() call's first step is a
warm-up and is not timed. Throughput counts real tokens only (the samples' own, no padding).
Peak memory: on a GPU torch.cuda.max_memory_allocated; on a CPU the peak resident set size of the
run's process above its size before train() (the model loaded), sampled every 10 ms. The
allocator is left as every user has it: forcing glibc to hand each large block back to the OS at
once (the way an earlier version of this benchmark measured memory in one process) filled every
variant's steps with page faults and slowed them all.

Workload: QA records (question, a context of 0-N sentences of the demo corpus, an answer of 1-6
sentences), so lengths vary as in real QA data. CPU: the shipped default model, float32,
max_seq_length 512. GPU: a randomly initialised model of Qwen2.5-0.5B's shape, bf16 mixed
precision, max_seq_length 2048; MFU = 4·N·tokens/s (LoRA: forward 2N, backward 2N since frozen
weights need no weight gradient) over the device's dense bf16 peak.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from knowtune.data.chunk import sentence_spans
from knowtune.data.ingest import read_documents
from knowtune.data import IGNORE_INDEX, build_datasets
from knowtune.fileio import write_json, write_jsonl
from knowtune.models import load_tokenizer, resolve_model
from knowtune.train.config import TrainConfig
from knowtune.train.trainer import GenerationEvalTrainer
from knowtune.train.methods import build_model, lora_config
from knowtune.train.arguments import settle_batching, trainer_args

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo"
BF16_PEAK_TFLOPS = {"H200": 989, "H100": 989, "A100": 312, "L40S": 362, "L4": 121, "A10": 125}  # dense


def qa_records(n: int, max_context: int, seed: int) -> list[dict]:
    """QA records whose lengths vary: demo questions, contexts and answers cut from the demo corpus."""
    documents, _ = read_documents([str(DEMO / "corpus")], ["md"])
    sentences = [d.text[a:b] for d in documents for a, b in sentence_spans(d.text)]
    questions = [json.loads(line)["question"] for line in (DEMO / "train.jsonl").read_text().splitlines()]
    rng = random.Random(seed)

    def some(k: int) -> str:
        return " ".join(rng.choice(sentences) for _ in range(k))

    return [{"question": rng.choice(questions), "context": some(rng.randint(0, max_context)) or None,
             "answer": some(rng.randint(1, 6))} for _ in range(n)]


SHAPES = {  # the published Qwen2.5 configs' shapes (vocabulary 151936, tied embeddings)
    "qwen2.5-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2),
    "qwen2.5-1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2),
}


def random_model(folder: Path, shape: str, tokenizer) -> str:
    """A randomly initialised Qwen2 model of `shape` (nothing downloaded), saved in bf16 with `tokenizer`, once."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    if not (folder / "config.json").exists():
        config = Qwen2Config(**SHAPES[shape], vocab_size=151936, max_position_embeddings=32768, rope_theta=1000000.0,
                             tie_word_embeddings=True, rms_norm_eps=1e-6)
        torch.manual_seed(0)
        with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
            model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return str(folder)


class PeakMemory:
    """Peak memory of the work inside `with`, in MiB."""

    def __enter__(self):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return self
        self.process, self.running = psutil.Process(), True
        self.start = self.peak = self.process.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __exit__(self, *exc):
        if torch.cuda.is_available():
            self.mib = torch.cuda.max_memory_allocated() / 2**20
        else:
            self.running = False
            self.thread.join()
            self.mib = (self.peak - self.start) / 2**20


class StepTimer(TrainerCallback):
    """Seconds of each optimizer step after the first (the warm-up)."""

    def __init__(self):
        self.seconds: list[float] = []

    def on_step_begin(self, args, state, control, **kwargs):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.began = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        if state.global_step > 1:
            self.seconds.append(time.perf_counter() - self.began)


class CountingCollator:
    """Wraps a collator; records each batch's real tokens (the samples' own lengths, no padding)."""

    def __init__(self, collate):
        self.collate, self.tokens = collate, []

    def __call__(self, features):
        self.tokens.append(sum(len(f["input_ids"]) for f in features))
        return self.collate(features)


def baseline_trainer(model_path, tokenizer, train, cfg: TrainConfig, run_dir: Path, padding: str) -> Trainer:
    """(a)/(b): the Trainer + PEFT script, as the seeds write it."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, DataCollatorForSeq2Seq

    torch.manual_seed(cfg.training.seed)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    model = get_peft_model(model, lora_config(cfg.lora))
    t = cfg.training
    args = TrainingArguments(
        output_dir=str(run_dir), learning_rate=t.learning_rate, lr_scheduler_type=t.lr_scheduler_type,
        per_device_train_batch_size=t.per_device_train_batch_size, max_steps=t.max_steps, seed=t.seed,
        logging_steps=1, save_strategy="no", report_to=[], disable_tqdm=True,
        bf16=torch.cuda.is_available(), dataloader_pin_memory=torch.cuda.is_available(),
    )
    collate = DataCollatorForSeq2Seq(tokenizer, padding=padding, max_length=cfg.data.max_seq_length,
                                     label_pad_token_id=IGNORE_INDEX)
    return Trainer(model=model, args=args, train_dataset=train, data_collator=CountingCollator(collate))


def knowtune_trainer(model_path, tokenizer, cfg: TrainConfig, run_dir: Path):
    """(c): knowtune's default path, built by knowtune's own functions."""
    train, _, _ = build_datasets(cfg.data, tokenizer, seed=cfg.training.seed)
    args = trainer_args(cfg, run_dir, has_eval=False)
    args.report_to, args.save_strategy, args.disable_tqdm = [], "no", True
    torch.manual_seed(cfg.training.seed)
    model, _ = build_model(cfg, model_path)
    settle_batching(args, model, cfg.training.batching)
    trainer = GenerationEvalTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer)
    trainer.data_collator = CountingCollator(trainer.data_collator)
    return trainer


def workload(folder: Path, records: int, steps: int, batch_size: int, max_len: int | None) -> tuple[TrainConfig, object]:
    """The benchmark's config and tokenizer; writes the QA records to `folder` the first time."""
    gpu = torch.cuda.is_available()
    max_context = 120 if gpu else 12
    max_len = max_len or (2048 if gpu else 512)
    model_path = resolve_model("smollm2-135m-instruct")
    tokenizer = load_tokenizer(model_path, False)
    if gpu:
        model_path = random_model(folder / "qwen2.5-0.5b-shape", "qwen2.5-0.5b", tokenizer)  # made once, by the parent
    data = folder / "train.jsonl"
    if not data.exists():
        write_jsonl(data, qa_records(records, max_context, seed=0))
    cfg = TrainConfig.model_validate({
        "model": model_path, "data": {"train": [str(data)], "max_seq_length": max_len},
        "lora": {"r": 16, "alpha": 32, "dropout": 0.0},
        "training": {"max_steps": steps + 1, "per_device_train_batch_size": batch_size,
                     "learning_rate": 1e-4, "lr_scheduler_type": "constant", "seed": 42},
    })
    return cfg, tokenizer


def run_variant(name: str, folder: Path, options) -> dict:
    """Train variant `name` (a, b or c) for the timed steps; its seconds, real tokens and peak memory."""
    cfg, tokenizer = workload(folder, options.records, options.steps, options.batch_size, options.max_seq_length)
    if name == "c":
        trainer = knowtune_trainer(cfg.model, tokenizer, cfg, folder / name)
    else:
        train, _, _ = build_datasets(cfg.data, tokenizer, seed=cfg.training.seed)
        trainer = baseline_trainer(cfg.model, tokenizer, train, cfg, folder / name,
                                   "max_length" if name == "a" else "longest")
    timer = StepTimer()
    trainer.add_callback(timer)
    with PeakMemory() as memory:
        trainer.train()
    counted = trainer.data_collator.tokens[1 : 1 + len(timer.seconds)]  # the timed steps' batches
    return {"seconds": sum(timer.seconds), "tokens": sum(counted), "peak_mb": memory.mib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="timed steps per variant per round (plus a warm-up step)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (a, b, c) x rounds")
    parser.add_argument("--records", type=int, default=256)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--max_seq_length", type=int, help="what (a) pads to and every variant cuts at (default 512 on a CPU, 2048 on a GPU)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--variant", choices=["a", "b", "c"], help=argparse.SUPPRESS)  # one run, in a child process
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    options = parser.parse_args()
    gpu = torch.cuda.is_available()
    if not gpu:
        torch.set_num_threads(psutil.cpu_count(logical=False) or psutil.cpu_count())
    if options.variant:
        write_json(Path(options.json), run_variant(options.variant, Path(options.folder), options))
        return

    tmp = Path(tempfile.mkdtemp(prefix="knowtune-bench-"))
    cfg, tokenizer = workload(tmp, options.records, options.steps, options.batch_size, options.max_seq_length)
    train, _, stats = build_datasets(cfg.data, tokenizer, seed=cfg.training.seed)
    lengths = sorted(len(ids) for ids in train["input_ids"])
    print(f"workload: {len(lengths)} samples, {lengths[0]}-{lengths[-1]} tokens (median {lengths[len(lengths) // 2]}), "
          f"{stats['trainable_tokens'] / stats['train_tokens']:.0%} of tokens trained on, "
          f"max_seq_length {cfg.data.max_seq_length}, batch {options.batch_size}, "
          f"{'GPU ' + torch.cuda.get_device_name() if gpu else f'CPU, {torch.get_num_threads()} threads'}", flush=True)

    names = ("a", "b", "c")
    seconds = {k: 0.0 for k in names}
    tokens = {k: 0 for k in names}
    peak = {k: 0.0 for k in names}
    failed: dict[str, str] = {}
    for round_ in range(options.rounds):
        for name in names:
            if name in failed:
                continue
            out = tmp / f"{name}-{round_}.json"
            child = subprocess.run(
                [sys.executable, __file__, "--variant", name, "--folder", str(tmp), "--json", str(out),
                 "--steps", str(options.steps), "--records", str(options.records), "--batch_size", str(options.batch_size)]
                + (["--max_seq_length", str(options.max_seq_length)] if options.max_seq_length else []),
                stdout=subprocess.DEVNULL)
            if child.returncode:
                failed[name] = ("killed (SIGKILL: out of memory?)" if child.returncode == -9
                                else f"exit status {child.returncode}")
                print(f"round {round_ + 1} ({name}): failed, {failed[name]}", flush=True)
                continue
            run = json.loads(out.read_text())
            seconds[name] += run["seconds"]
            tokens[name] += run["tokens"]
            peak[name] = max(peak[name], run["peak_mb"])
            print(f"round {round_ + 1} ({name}): {run['tokens'] / run['seconds']:.0f} real tokens/s, "
                  f"peak {run['peak_mb']:.0f} MiB", flush=True)

    rate = {k: None if k in failed else tokens[k] / seconds[k] for k in names}

    def ratio(k: str) -> float | None:
        return None if rate["c"] is None or rate[k] is None else round(rate["c"] / rate[k], 2)

    result = {
        "device": torch.cuda.get_device_name() if gpu else f"CPU ({psutil.cpu_count()} cores)",
        "max_seq_length": cfg.data.max_seq_length,
        "tokens_per_s": {k: None if v is None else round(v, 1) for k, v in rate.items()},
        "peak_memory_mb": {k: None if k in failed else round(v, 1) for k, v in peak.items()},
        "ratio_vs_padded": ratio("a"),
        "ratio_vs_dynamic": ratio("b"),
        "failed": failed,
    }
    peak_tflops = next((v for k, v in BF16_PEAK_TFLOPS.items() if gpu and k in torch.cuda.get_device_name()), None)
    if peak_tflops:
        n_params = _parameter_count(cfg.model)
        result["mfu"] = {k: None if v is None else round(4 * n_params * v / (peak_tflops * 1e12), 4)
                         for k, v in rate.items()}
    print("\n| variant | real tokens/s | peak memory (MiB) |\n|---|---|---|")
    for k, label in (("a", "(a) Trainer + PEFT, padded to max_seq_length"), ("b", "(b) Trainer + PEFT, dynamic padding"),
                     ("c", "(c) knowtune default")):
        print(f"| {label} | failed: {failed[k]} | |" if k in failed else f"| {label} | {rate[k]:.0f} | {peak[k]:.0f} |")
    shown = {k: "n/a" if result[k] is None else f"{result[k]}x" for k in ("ratio_vs_padded", "ratio_vs_dynamic")}
    print(f"\nc/a = {shown['ratio_vs_padded']}, c/b = {shown['ratio_vs_dynamic']}"
          + (f", MFU {result['mfu']}" if "mfu" in result else ""))
    if options.json:
        write_json(Path(options.json), result)


def _parameter_count(model_path: str) -> int:
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_path))
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    main()
