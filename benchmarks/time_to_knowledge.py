"""Time to knowledge: the demo knowledge update with knowtune's default recipe vs seed 001's defaults.

    .venv/bin/python benchmarks/time_to_knowledge.py [--json PATH]

Both train the shipped default model on examples/demo/train.jsonl through `knowtune train`'s
own run(), then answer the held-out paraphrased questions (examples/demo/heldout.jsonl), scored
by knowtune.evaluate.qa_check (the gold answer contained in the reply).

- knowtune: the training config `knowtune run` builds (RunConfig.train_config: the default
  knowledge-update recipe, knowtune.experiments.job.RECIPE, docs/recipe.md, with replay distillation
  and checkpoint selection), so this follows recipe changes.
- seed 001: examples/quickstart.yaml (plain LoRA, no replay) with seed 001's published defaults on
  top: LoRA r=8 (alpha 16) on q/k/v/o, learning rate 1e-4, 3 epochs, batch 8, gradient accumulation 8.

Wall time is run()'s: setup (with the recipe: the replayed answers and the per-epoch evaluations
selection needs), training and saving the adapter; answering the questions afterwards is not in it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from knowtune.config import load_config
from knowtune.experiments.job import RunConfig
from knowtune.evaluate.qa_check import evaluate_qa, load_qa_file
from knowtune.fileio import write_json
from knowtune.train.config import TrainConfig
from knowtune.train.run import run

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"
SEED_001 = ["lora.r=8", "lora.alpha=16", "lora.target_modules=[q_proj,k_proj,v_proj,o_proj]",
            "training.learning_rate=1e-4", "training.num_train_epochs=3", "training.per_device_train_batch_size=8",
            "training.gradient_accumulation_steps=8"]


def knowledge_update(name: str, cfg: TrainConfig) -> dict:
    heldout = load_qa_file(DEMO / "heldout.jsonl")
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
        job = RunConfig(experiment_name="knowtune", base_output_dir=tmp, train_data=[str(DEMO / "train.jsonl")])
        recipe = job.train_config(job.train_data, str(DEMO / "heldout.jsonl"))  # as `knowtune run` builds it
        seed = load_config(TrainConfig, REPO / "examples" / "quickstart.yaml",
                           [f"base_output_dir={tmp}", "experiment_name=seed_001", "heldout=null", *SEED_001])
        figures = {"knowtune": knowledge_update("knowtune", recipe), "seed_001": knowledge_update("seed_001", seed)}
    print("\n| recipe | wall time (s) | held-out accuracy |\n|---|---|---|")
    for name, f in figures.items():
        print(f"| {name} | {f['wall_s']:.0f} | {100 * f['heldout_accuracy']:.0f}% |")
    if options.json:
        write_json(Path(options.json), figures)


if __name__ == "__main__":
    main()
