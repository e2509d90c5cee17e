"""Evaluations that show what a fine-tune changed (`knowtune eval`; see docs/evaluation.md).

- `run`: the command's core: resolve models, read datasets, evaluate, write results.
- `config`: its typed config; `cli`: its flags.
- `target`: what is evaluated (base model, adapter, run directory) and loading it.
- `eval_data`: eval datasets checked record by record, the shipped suite (`suites/`).
- `scoring`: one dataset scored with a model, a predictions file scored without one, and
  `generation_metrics` for eval during training.
- `generate`: batched, left-padded, length-sorted chat generation.
- `qa_metrics`, `extraction_metrics`, `perplexity`: the metrics.
- `report`: results.json, report.md, TensorBoard scalars.
- `qa_check`: the trainer's held-out QA accuracy before and after training.
"""
