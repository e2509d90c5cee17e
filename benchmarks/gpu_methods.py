"""On a GPU: knowtune's training path by method and precision, side by side (real tokens/s, peak GPU memory).

    python benchmarks/gpu_methods.py [--shape qwen2.5-1.5b] [--steps 4] [--variants lora,qlora,...] [--json PATH]

One workload (train_throughput.py's QA records, batch 8, max_seq_length 2048) trained by knowtune's
own default path (build_datasets, trainer_args, build_model and the recipe's trainer class), on a
randomly initialised model of a real model's shape (nothing downloaded; speed and memory do not
depend on the weights' values), each variant in a fresh process so that none sees memory another
left behind:

- lora: the GPU default (bf16 mixed precision, LoRA r=16 on all linear layers), the baseline;
- lora-liger: the same with Liger Kernel's fused layers (`training.liger_kernel=true`);
- lora-fp32: the same in float32 (`training.precision=fp32`);
- qlora: 4-bit NF4 base weights with double quantization (bitsandbytes), LoRA on top;
- full: every weight trained (AdamW states for all of them).

The first optimizer step of each run is a warm-up and is not timed. Peak memory is
torch.cuda.max_memory_allocated over the whole train() call (model, optimizer states, activations).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import SHAPES, PeakMemory, StepTimer, knowtune_trainer, qa_records, random_model  # noqa: E402

from knowtune.fileio import write_json, write_jsonl  # noqa: E402
from knowtune.models import load_tokenizer, resolve_model  # noqa: E402
from knowtune.train.config import TrainConfig  # noqa: E402

VARIANTS = {  # name: config overrides
    "lora": {},
    "lora-liger": {"training": {"liger_kernel": True}},
    "lora-fp32": {"training": {"precision": "fp32"}},
    "qlora": {"method": "qlora"},
    "full": {"method": "full"},
}


def config(folder: Path, model_path: str, variant: str, steps: int, batch_size: int, max_len: int) -> TrainConfig:
    overrides = VARIANTS[variant]
    base = {
        "model": model_path, "data": {"train": [str(folder / "train.jsonl")], "max_seq_length": max_len},
        "lora": {"r": 16, "alpha": 32, "dropout": 0.0},
        "training": {"max_steps": steps + 1, "per_device_train_batch_size": batch_size, "learning_rate": 1e-4,
                     "lr_scheduler_type": "constant", "seed": 42, **overrides.get("training", {})},
    }
    base.update({k: v for k, v in overrides.items() if k != "training"})
    return TrainConfig.model_validate(base)


def run_variant(variant: str, folder: Path, model_path: str, options) -> dict:
    tokenizer = load_tokenizer(model_path, False)
    cfg = config(folder, model_path, variant, options.steps, options.batch_size, options.max_seq_length)
    trainer = knowtune_trainer(model_path, tokenizer, cfg, folder / variant)
    timer = StepTimer()
    trainer.add_callback(timer)
    with PeakMemory() as memory:
        result = trainer.train()
    counted = trainer.data_collator.tokens[1 : 1 + len(timer.seconds)]
    return {"seconds": sum(timer.seconds), "tokens": sum(counted), "peak_mb": memory.mib,
            "liger": bool(trainer.args.use_liger_kernel), "train_loss": result.training_loss,
            "precision": "bf16" if trainer.args.bf16 else "fp16" if trainer.args.fp16 else "fp32"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=list(SHAPES), default="qwen2.5-1.5b")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per variant (plus a warm-up step)")
    parser.add_argument("--records", type=int, default=256)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--max_seq_length", type=int, default=2048)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, of: " + ", ".join(VARIANTS))
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # one run, in a child process
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.variant:
        folder = Path(options.folder)
        write_json(folder / f"{options.variant}.json",
                   run_variant(options.variant, folder, str(folder / options.shape), options))
        return
    variants = options.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")

    folder = Path(tempfile.mkdtemp(prefix="knowtune-gpu-methods-"))
    tokenizer = load_tokenizer(resolve_model("smollm2-135m-instruct"), False)
    random_model(folder / options.shape, options.shape, tokenizer)
    write_jsonl(folder / "train.jsonl", qa_records(options.records, 120, seed=0))
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    print(f"{options.shape} shape, random weights, batch {options.batch_size}, max_seq_length "
          f"{options.max_seq_length}, {options.steps} timed steps, {device}", flush=True)
    results: dict[str, dict] = {}
    for variant in variants:
        child = subprocess.run([sys.executable, __file__, "--variant", variant, "--folder", str(folder),
                                "--shape", options.shape, "--steps", str(options.steps),
                                "--batch_size", str(options.batch_size), "--max_seq_length", str(options.max_seq_length)],
                               capture_output=True, text=True)
        if child.returncode:
            tail = (child.stderr or child.stdout).strip().splitlines()[-1:] or ["no output"]
            results[variant] = {"failed": f"exit status {child.returncode}: {tail[0][:300]}"}
        else:
            run = json.loads((folder / f"{variant}.json").read_text())
            run["tokens_per_s"] = round(run["tokens"] / run["seconds"], 1)
            results[variant] = run
        print(f"{variant}: {results[variant]}", flush=True)

    base = results.get("lora", {}).get("tokens_per_s")
    print("\n| variant | precision | Liger | real tokens/s | vs lora | peak memory (MiB) | mean train loss |")
    print("|---|---|---|---|---|---|---|")
    for variant, run in results.items():
        if "failed" in run:
            print(f"| {variant} | failed: {run['failed']} | | | | | |")
            continue
        ratio = f"{run['tokens_per_s'] / base:.2f}x" if base else "n/a"
        print(f"| {variant} | {run['precision']} | {'on' if run['liger'] else 'off'} | {run['tokens_per_s']:.0f} | "
              f"{ratio} | {run['peak_mb']:.0f} | {run['train_loss']:.3f} |")
    if options.json:
        write_json(Path(options.json), {"shape": options.shape, "device": device, "results": results})


if __name__ == "__main__":
    main()
