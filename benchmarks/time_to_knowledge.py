"""Time to knowledge: the demo knowledge update with knowtune's default recipe vs seed 001's defaults.

    .venv/bin/python benchmarks/time_to_knowledge.py [--json PATH]

Both train the shipped default model on examples/demo/train.jsonl through `knowtune train`'s
own run(), then answer the held-out paraphrased questions (examples/demo/heldout.jsonl), scored
by knowtune.evaluate.qa_check (the gold answer contained in the reply).

- knowtune: the recipe of examples/quickstart.yaml as it is (so this follows recipe changes).
- seed 001: the same file with seed 001's published defaults on top: LoRA r=8 (alpha 16) on
  q/k/v/o, learning rate 1e-4, 3 epochs, batch 8, gradient accumulation 8.

Wall time is run()'s: setup, training and saving the adapter; answering the questions is not in it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from knowtune.config import load_config
from knowtune.evaluate.qa_check import evaluate_qa, load_qa_file
from knowtune.fileio import write_json
from knowtune.train.config import TrainConfig
from knowtune.train.run import run

REPO = Path(__file__).resolve().parents[1]
SEED_001 = ["lora.r=8", "lora.alpha=16", "lora.target_modules=[q_proj,k_proj,v_proj,o_proj]",
            "training.learning_rate=1e-4", "training.num_train_epochs=3", "training.per_device_train_batch_size=8",
            "training.gradient_accumulation_steps=8"]


def knowledge_update(name: str, overrides: list[str], out: Path) -> dict:
    cfg = load_config(TrainConfig, REPO / "examples" / "quickstart.yaml",
                      [f"base_output_dir={out}", f"experiment_name={name}", "heldout=null", *overrides])
    heldout = load_qa_file(REPO / "examples" / "demo" / "heldout.jsonl")
    start = time.perf_counter()
    result = run(cfg, command=["benchmarks/time_to_knowledge.py", name])
    seconds = time.perf_counter() - start
    scored = evaluate_qa(result.model, result.tokenizer, heldout)
    right = sum(p["correct"] for p in scored["predictions"])
    print(f"{name}: {seconds:.0f} s, {result.metrics['global_step']} optimizer steps, held-out accuracy "
          f"{right}/{scored['n']} ({100 * scored['accuracy']:.0f}%)", flush=True)
    return {"wall_s": round(seconds, 1), "steps": result.metrics["global_step"], "heldout_accuracy": scored["accuracy"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the figures to this JSON file")
    options = parser.parse_args()
    os.chdir(REPO)  # the recipe names its data relative to the repository
    with tempfile.TemporaryDirectory(prefix="knowtune-ttk-") as tmp:
        figures = {"knowtune": knowledge_update("knowtune", [], Path(tmp)),
                   "seed_001": knowledge_update("seed_001", SEED_001, Path(tmp))}
    print("\n| recipe | wall time (s) | held-out accuracy |\n|---|---|---|")
    for name, f in figures.items():
        print(f"| {name} | {f['wall_s']:.0f} | {100 * f['heldout_accuracy']:.0f}% |")
    if options.json:
        write_json(Path(options.json), figures)


if __name__ == "__main__":
    main()
