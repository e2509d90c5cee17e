"""knowtune's training loss: the LM head runs on the trained positions only, and replayed answers
are matched to the base model's whole next-token distribution instead of its greedy tokens.

- Compact head. The next-token loss needs logits only where a label is trained (the answers of a
  chat; about a third of the tokens of QA data). The model's forward is given a `knowtune_hidden`
  mode (`add_hidden_output`) that returns the backbone's hidden states at those positions, and the
  head and the loss run on them alone, in chunks of tokens so the (tokens x vocabulary) logits of a
  long batch are never held at once. TRL's fused head does the same on Triton devices; elsewhere
  (the CPU) it scores every position, which measured 1.8x slower per step on the default model.
- Shared prefix once (`backbone_hidden`). The system prompt every chat sample starts with runs once
  per batch, its keys and values repeated for the rows: the same loss and gradients, 1.16-1.25x faster per
  step on the default model (benchmarks/shared_prefix_training.py).
- Replay as distillation (`replay.loss: kl`). A replayed answer is the base model's own; training on
  its greedy tokens (cross-entropy) sharpens the model towards them, which itself moves it. Instead,
  at each position of a replayed answer the loss is the KL divergence from the base model's
  distribution (its `replay.kl_top_k` most likely tokens plus one bucket for the rest, recorded
  before training) to the model's: zero for the untrained model, so its gradient only resists drift.

The batch carries the teacher distributions as `teacher_ids`/`teacher_logp` (the replayed tokens'
rows, in the order the trained positions come in the batch) and `teacher_on` (which trained
positions are replayed); `TeacherCollator` puts them there.
"""

from __future__ import annotations

import functools
import types
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers.utils import ModelOutput

from knowtune.data.tokenize import IGNORE_INDEX
from knowtune.models.generate import SHARED_PREFIX_MIN, common_prefix
from knowtune.upstream import TRL_FORWARD_KWARGS

TEACHER_KEYS = ("teacher_ids", "teacher_logp", "teacher_on")
REPLAY_INDEX = "replay_index"  # dataset column: the replay sample's index into the teacher table, -1 for others
CHUNK_TOKENS = 2048  # trained positions whose logits are built at once


@dataclass
class HiddenOutput(ModelOutput):
    hidden: torch.Tensor | None = None  # (trained positions, hidden size)
    targets: torch.Tensor | None = None  # (trained positions,)


def add_hidden_output(model) -> None:
    """Let `model(..., labels=labels, knowtune_hidden=True)` return the hidden states at the trained
    positions (next-token labels not ignored) instead of logits. Other calls are unchanged."""
    original = model.forward

    @functools.wraps(type(model).forward)
    def forward(self, *args, knowtune_hidden=False, **kwargs):
        if not knowtune_hidden:
            return original(*args, **kwargs)
        labels = kwargs.pop("labels")
        for key in TRL_FORWARD_KWARGS:
            kwargs.pop(key, None)
        kwargs["use_cache"] = False
        hidden = backbone_hidden(self.base_model, args, kwargs)[:, :-1]
        targets = labels[:, 1:].to(hidden.device)
        mask = targets != IGNORE_INDEX
        return HiddenOutput(hidden=hidden[mask], targets=targets[mask])

    model.forward = types.MethodType(forward, model)


def shared_prefix(input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> int:
    """How many tokens every row of a right-padded batch starts with (a chat template's system prompt),
    leaving each row at least one token of its own; 0 where a row does not start at position 0."""
    if input_ids.dim() != 2 or input_ids.shape[0] < 2:
        return 0
    mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
    real = mask.long()
    if not bool((real.cumprod(-1).sum(-1) == real.sum(-1)).all()):  # padding before a row's tokens
        return 0
    return common_prefix(input_ids, mask)


def _sharded(module) -> bool:
    """Whether FSDP (1 or 2) or DeepSpeed ZeRO-3 hold the weights in shards gathered per forward; there the
    backbone runs once per step, as those engines expect (the prefix path calls it twice; unmeasured)."""
    if any(type(m).__name__ == "FullyShardedDataParallel" or type(m).__name__.startswith("FSDP") for m in module.modules()):
        return True
    return any(hasattr(p, "ds_id") for p in module.parameters())


def _prefix_runs_once(backbone) -> str | None:
    """The backbone forward's keyword for a KV cache where a shared prefix can run once for the batch (a
    decoder whose every layer attends to the whole past, activations kept), else None."""
    import inspect

    config = backbone.config.get_text_config()
    if getattr(backbone, "gradient_checkpointing", False) or getattr(config, "is_encoder_decoder", False):
        return None
    if _sharded(backbone):
        return None
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None:
        if any(kind != "full_attention" for kind in layer_types):
            return None
    elif getattr(config, "sliding_window", None) is not None and getattr(config, "use_sliding_window", True):
        return None
    parameters = inspect.signature(backbone.forward).parameters
    return next((name for name in ("cache", "past_key_values") if name in parameters), None)


def backbone_hidden(backbone, args: tuple, kwargs: dict) -> torch.Tensor:
    """The backbone's last hidden states (rows, positions, hidden size) for a training batch.

    The tokens every row starts with (the system prompt of a chat template: about a quarter of a QA
    sample's tokens) see nothing but each other under causal attention, so their states are the same
    in every row: they run once, and their keys and values are repeated for the rows
    (`Cache.batch_repeat_interleave`) before the rest of the batch runs on them. Gradients flow
    back through the repeat, so the loss and its gradient are those of the whole batch run as it is
    (tests/unit/test_loss.py); the forward and backward skip rows-1 copies of the prefix."""
    ids, mask = kwargs.get("input_ids"), kwargs.get("attention_mask")
    keyword = None
    if not args and isinstance(ids, torch.Tensor) and kwargs.get("position_ids") is None \
            and kwargs.get("inputs_embeds") is None:
        keyword = _prefix_runs_once(backbone)
    shared = shared_prefix(ids, mask) if keyword else 0
    if shared < SHARED_PREFIX_MIN:
        return backbone(*args, **kwargs).last_hidden_state
    from transformers import DynamicCache

    rows, width = ids.shape
    rest = {k: v for k, v in kwargs.items() if k not in ("input_ids", "attention_mask", "use_cache")}
    mask = torch.ones_like(ids) if mask is None else mask
    kv = DynamicCache(config=backbone.config)
    positions = torch.arange(width, device=ids.device)[None]
    head = backbone(input_ids=ids[:1, :shared], attention_mask=mask[:1, :shared], position_ids=positions[:, :shared],
                    use_cache=True, **{keyword: kv}, **rest).last_hidden_state
    kv.batch_repeat_interleave(rows)
    tail = backbone(input_ids=ids[:, shared:], attention_mask=mask, position_ids=positions[:, shared:].expand(rows, -1),
                    use_cache=True, **{keyword: kv}, **rest).last_hidden_state
    return torch.cat([head.expand(rows, -1, -1), tail], dim=1)


def logit_transform(config) -> tuple[float, float | None]:
    """(scale, softcap) the model applies to its logits, from the config keys the architectures use."""
    text = config.get_text_config()
    scale = next((getattr(text, k) for k in ("logit_scale", "output_multiplier", "lm_head_multiplier")
                  if getattr(text, k, None) is not None), None)
    if scale is None and getattr(text, "logits_scaling", None) is not None:
        scale = text.logits_scaling if text.model_type == "hyperclovax" else 1 / text.logits_scaling
    return (1.0 if scale is None else float(scale)), getattr(text, "final_logit_softcapping", None)


def _chunk_loss(hidden, weight, bias, targets, teacher_on, teacher_ids, teacher_logp, scale, softcap):
    logits = F.linear(hidden, weight, bias).float() * scale
    if softcap:
        logits = softcap * torch.tanh(logits / softcap)
    logp = logits.log_softmax(-1)
    per_token = -logp.gather(1, targets.unsqueeze(1)).squeeze(1)
    if teacher_ids is not None and teacher_ids.numel():
        q = logp[teacher_on].gather(1, teacher_ids)  # the model's log-probabilities of the base's top tokens
        p = teacher_logp.exp()
        p_rest = (1 - p.sum(-1)).clamp(min=1e-12)
        q_rest = torch.log1p(-q.exp().sum(-1).clamp(max=1 - 1e-7))
        kl = (p * (teacher_logp - q)).sum(-1) + p_rest * (p_rest.log() - q_rest)
        per_token = per_token.masked_scatter(teacher_on, kl)
    correct = (logits.detach().argmax(-1) == targets).sum()
    return per_token.sum(), correct


def token_loss(hidden, head, targets, scale: float = 1.0, softcap: float | None = None,
               teacher: dict | None = None, chunk: int = CHUNK_TOKENS) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of the per-position losses, positions whose top prediction is the target): cross-entropy,
    or KL from the teacher where `teacher["teacher_on"]`. With more than one chunk, each chunk's logits
    are recomputed in the backward pass (activation checkpointing), so memory stays at one chunk's."""
    teacher = teacher or {}
    on = teacher.get("teacher_on")
    on = torch.zeros_like(targets, dtype=torch.bool) if on is None else on.to(targets.device)
    total, correct, done = hidden.new_zeros((), dtype=torch.float32), 0, 0
    for start in range(0, max(len(targets), 1), chunk):
        end = min(start + chunk, len(targets))
        part_on = on[start:end]
        rows = slice(done, done + int(part_on.sum()))
        done = rows.stop
        ids = teacher["teacher_ids"][rows].to(hidden.device) if "teacher_ids" in teacher else None
        logp = teacher["teacher_logp"][rows].to(hidden.device) if "teacher_logp" in teacher else None
        args = (hidden[start:end], head.weight, head.bias, targets[start:end], part_on, ids, logp, scale, softcap)
        if len(targets) > chunk and torch.is_grad_enabled():
            loss, right = torch.utils.checkpoint.checkpoint(_chunk_loss, *args, use_reentrant=False)
        else:
            loss, right = _chunk_loss(*args)
        total, correct = total + loss, correct + right
    return total, correct


@torch.no_grad()
def teacher_distributions(model, columns: dict[str, list], top_k: int, batch_size: int = 8) -> list[tuple]:
    """For each sample of `columns` (input_ids, labels): the model's `top_k` token ids and their
    log-probabilities at each trained position, as (ids int64 (n, k), log-probabilities float32 (n, k)).
    The head runs on the trained positions only, and a prefix the batch shares once (`backbone_hidden`)."""
    was_training = model.training
    model.eval()
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    head, (scale, softcap) = base.get_output_embeddings(), logit_transform(base.config)
    device = next(model.parameters()).device
    found = []
    try:
        for start in range(0, len(columns["input_ids"]), batch_size):
            ids = columns["input_ids"][start:start + batch_size]
            labels = columns["labels"][start:start + batch_size]
            width = max(len(x) for x in ids)
            input_ids = torch.tensor([x + [0] * (width - len(x)) for x in ids], device=device)
            mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids], device=device)
            hidden = backbone_hidden(base.base_model, (), {"input_ids": input_ids, "attention_mask": mask,
                                                           "use_cache": False})[:, :-1]
            for row, sample_labels in enumerate(labels):
                trained = torch.tensor([label != IGNORE_INDEX for label in sample_labels[1:]], device=device)
                logits = F.linear(hidden[row, : len(trained)][trained], head.weight, head.bias).float() * scale
                if softcap:
                    logits = softcap * torch.tanh(logits / softcap)
                top = logits.log_softmax(-1).topk(top_k, dim=-1)
                found.append((top.indices.cpu(), top.values.cpu()))
    finally:
        model.train(was_training)
    return found


class TeacherCollator:
    """Wraps a collator: takes the `replay_index` column off the samples and adds the teacher
    distributions of the batch's replayed positions (TEACHER_KEYS)."""

    def __init__(self, collate, teacher: list[tuple]):
        self.collate, self.teacher = collate, teacher

    def __call__(self, features):
        indices = [f.get(REPLAY_INDEX, -1) for f in features]
        features = [{k: v for k, v in f.items() if k != REPLAY_INDEX} for f in features]
        batch = self.collate(features)
        if not any(i >= 0 for i in indices):
            return batch
        on, ids, logp = [], [], []
        for feature, index in zip(features, indices):
            labels = feature["labels"]
            trained = sum(1 for label in list(labels)[1:] if label != IGNORE_INDEX)
            if index >= 0:
                top_ids, top_logp = self.teacher[index]
                if len(top_ids) != trained:
                    raise RuntimeError(f"replay sample {index}: {trained} trained positions, teacher has {len(top_ids)}")
                ids.append(top_ids)
                logp.append(top_logp)
            on.append(torch.full((trained,), index >= 0, dtype=torch.bool))
        batch.update(teacher_on=torch.cat(on), teacher_ids=torch.cat(ids), teacher_logp=torch.cat(logp))
        return batch
