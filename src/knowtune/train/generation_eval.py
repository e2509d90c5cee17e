"""Task metrics during training: at every evaluation the model answers the `training.eval_datasets`
(greedy, left padded) and their exact match / F1 (QA) or precision / recall / F1 (extraction) join
eval_loss in the same metrics dict, so TensorBoard, training_metrics.json and early stopping
(`metric_for_best_model: eval_<name>_f1`) all see them.
"""

from __future__ import annotations

from trl import SFTTrainer

from knowtune.errors import UserError
from knowtune.train.config import TrainConfig


def load_generation_evals(cfg: TrainConfig) -> list:
    """Read and check the datasets at setup, before anything is trained."""
    from knowtune.evaluate.eval_data import load_eval_dataset

    datasets = []
    for path in cfg.training.eval_datasets:
        dataset = load_eval_dataset(path, system_prompt=cfg.data.system_prompt, max_samples=cfg.training.eval_max_samples)
        if dataset.metric == "perplexity":
            raise UserError(f"training.eval_datasets: {path} is plain text; its loss is eval_loss (put it in data.eval)")
        if not dataset.items:
            raise UserError(f"training.eval_datasets: {path} has no usable record: {'; '.join(dataset.problems[:3])}")
        datasets.append(dataset)
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise UserError(f"training.eval_datasets: two files share a name ({', '.join(names)}); rename one")
    return datasets


class GenerationEvalTrainer(SFTTrainer):
    """SFTTrainer whose evaluation also scores generated answers."""

    def __init__(self, *args, generation_evals: list = (), eval_max_new_tokens: int = 64, **kwargs):
        super().__init__(*args, **kwargs)
        self.generation_evals = list(generation_evals)
        self.eval_max_new_tokens = eval_max_new_tokens

    def evaluation_loop(self, *args, metric_key_prefix: str = "eval", **kwargs):
        # Trainer.evaluate logs output.metrics and hands them to the callbacks (early stopping)
        # and to the best-checkpoint choice right after this returns: the one place to add them.
        output = super().evaluation_loop(*args, metric_key_prefix=metric_key_prefix, **kwargs)
        from knowtune.evaluate.scoring import generation_metrics

        for dataset in self.generation_evals:
            scores = generation_metrics(
                self.model, self.processing_class, dataset,
                batch_size=self.args.per_device_eval_batch_size, max_new_tokens=self.eval_max_new_tokens,
            )
            output.metrics.update({f"{metric_key_prefix}_{dataset.name}_{k}": v for k, v in scores.items()})
        return output
