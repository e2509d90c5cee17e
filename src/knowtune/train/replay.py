"""Replay of the base model's own behaviour, so a knowledge update does not erase what it knew.

Before training, the base model answers general prompts (a shipped set of facts, definitions,
instructions and small talk, plus the user's own); those (prompt, answer) conversations are mixed
into the training samples at `replay.ratio` per training sample. Where the new documents say
nothing, training then pulls the model towards the answers it already gave instead of drifting.
Answers are cached per model and prompt under the cache directory: a rerun, a resume or the next
run on the same base model generates only what is missing.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import io
import json
import logging
import os
import random
import re
from pathlib import Path

from knowtune.data.tokenize import IGNORE_INDEX, tokenize_chat
from knowtune.errors import UserError
from knowtune.models import cache_dir
from knowtune.synth.calls import CallCache
from knowtune.train.config import TrainConfig
from knowtune.train.loss import REPLAY_INDEX, teacher_distributions

log = logging.getLogger("knowtune")

SHIPPED_PROMPTS = "replay_prompts.jsonl"
_SENTENCE_END = re.compile(r"[.!?。！？](?=\s|$)")


def shipped_prompts_path() -> Path:
    return Path(str(importlib.resources.files("knowtune.train") / SHIPPED_PROMPTS))


def read_prompts(path: str | Path, kinds: list[str] | None = None) -> list[str]:
    """Prompts from a JSON/JSONL file (`prompt` field; with `kinds`, only records whose `kind` is one
    of them) or a text file (one per line)."""
    from knowtune.data.load import load_records

    path = Path(path)
    if path.suffix not in (".json", ".jsonl"):
        try:
            return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"replay.prompts: cannot read {path}: {e}") from None
    prompts = []
    for record in load_records([str(path)]):
        prompt = record.data.get("prompt") if isinstance(record.data, dict) else None
        if not isinstance(prompt, str) or not prompt.strip():
            raise UserError(f"{record.where}: field 'prompt' must be a non-empty string")
        if kinds is None or record.data.get("kind") in kinds:
            prompts.append(prompt.strip())
    return prompts


def all_prompts(cfg: TrainConfig) -> list[str]:
    found = read_prompts(shipped_prompts_path(), cfg.replay.kinds) if cfg.replay.shipped_prompts else []
    for path in cfg.replay.prompts:
        found += read_prompts(path)
    return list(dict.fromkeys(found))  # a prompt given twice is replayed once


def choose(prompts: list[str], train_samples: int, ratio: float, seed: int) -> list[str]:
    """round(ratio x train_samples) prompts drawn by a seeded shuffle (all of them if there are fewer)."""
    wanted = round(ratio * train_samples)
    if wanted > len(prompts):
        log.warning("replay: %d samples wanted (ratio %s), only %d prompts: using them all", wanted, ratio, len(prompts))
    order = list(prompts)
    random.Random(seed).shuffle(order)
    return order[:wanted]


def complete_sentences(answer: str, hit_limit: bool) -> str:
    """An answer cut by the token limit ends at its last full sentence, so training never teaches a
    model to stop mid-sentence; '' when no sentence is complete."""
    if not hit_limit:
        return answer.strip()
    ends = list(_SENTENCE_END.finditer(answer))
    return answer[: ends[-1].end()].strip() if ends else ""


def _model_identity(model_path: str) -> str:
    """The base model's weights, by name, size and modification time of its files (no hashing of GBs)."""
    folder = Path(model_path)
    files = sorted(p for p in folder.glob("*") if p.suffix in (".safetensors", ".bin", ".json"))
    described = [(p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in files] or [str(model_path)]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:16]


def replay_cache(cfg: TrainConfig) -> Path:
    """Where the base model's replay answers and distributions are kept: $KNOWTUNE_REPLAY_CACHE, else
    `replay/` under the knowtune cache."""
    return Path(os.environ.get("KNOWTUNE_REPLAY_CACHE") or cache_dir(cfg.cache_dir) / "replay")


def base_identity(cfg: TrainConfig, model_path: str) -> dict:
    """What makes the model being trained, before its first step, answer as it does: its files, and what
    loading changes without touching them (RoPE settings, a quantized load)."""
    identity = {"model": _model_identity(model_path)}
    if cfg.rope_theta is not None or cfg.no_rope_layers:
        identity["rope"] = [cfg.rope_theta, cfg.no_rope_layers]
    if cfg.method == "qlora":
        identity["quantization_bits"] = cfg.lora.quantization_bits
    return identity


def base_answers(cfg: TrainConfig, model, tokenizer, model_path: str, prompts: list[str]) -> dict[str, str]:
    """The base model's greedy answer to each prompt; cached, so only missing ones are generated."""
    from knowtune.models.generate import GENERATION_BATCH, generate_batches

    cache = CallCache(replay_cache(cfg) / "answers.sqlite")
    identity = {**base_identity(cfg, model_path), "system_prompt": cfg.data.system_prompt, "kind": "replay"}
    keys = {p: CallCache.key(CallCache.request(identity, cfg.replay.max_new_tokens, [{"role": "user", "content": p}]))
            for p in prompts}
    answers = {p: cache.get(keys[p]) for p in prompts}
    missing = [p for p in prompts if answers[p] is None]
    if missing:
        print(f"Replay: the base model answers {len(missing)} general prompts "
              f"({len(prompts) - len(missing)} cached)", flush=True)
        for batch_ids, texts, _ in generate_batches(
            model, tokenizer, missing, batch_size=GENERATION_BATCH, max_new_tokens=cfg.replay.max_new_tokens,
            system_prompt=cfg.data.system_prompt,
        ):
            for i, text in zip(batch_ids, texts):
                hit_limit = len(tokenizer(text, add_special_tokens=False)["input_ids"]) >= cfg.replay.max_new_tokens - 1
                answer = complete_sentences(text, hit_limit)
                prompt = missing[i]
                cache.put(keys[prompt], CallCache.request(identity, cfg.replay.max_new_tokens, [prompt]), answer)
                answers[prompt] = answer
    cache.close()
    return answers


def cached_teacher(cfg: TrainConfig, model, model_path: str, columns: dict[str, list]) -> list[tuple]:
    """The base model's distributions over each replayed answer (`teacher_distributions`), kept per model
    and sample under the cache directory like the answers: only samples not seen before are computed."""
    import torch

    from knowtune.fileio import write_atomic

    folder = replay_cache(cfg) / "teacher"
    weight = next(model.parameters())
    identity = {**base_identity(cfg, model_path), "top_k": cfg.replay.kl_top_k, "device": weight.device.type,
                "dtype": str(weight.dtype), "torch": torch.__version__}
    paths = [folder / (hashlib.sha256(json.dumps([identity, ids, labels]).encode()).hexdigest() + ".pt")
             for ids, labels in zip(columns["input_ids"], columns["labels"])]
    found: dict[int, tuple] = {}
    for i, path in enumerate(paths):
        try:
            ids, logp = torch.load(path, weights_only=True)
        except Exception:  # absent, or unreadable: computed again
            continue
        found[i] = (ids, logp)
    missing = [i for i in range(len(paths)) if i not in found]
    if missing:
        computed = teacher_distributions(model, {name: [columns[name][i] for i in missing] for name in ("input_ids", "labels")},
                                         cfg.replay.kl_top_k, batch_size=cfg.training.per_device_eval_batch_size)
        folder.mkdir(parents=True, exist_ok=True)
        for i, (ids, logp) in zip(missing, computed):
            found[i] = (ids, logp)
            buffer = io.BytesIO()
            torch.save((ids, logp), buffer)
            write_atomic(paths[i], buffer.getvalue())
    return [found[i] for i in range(len(paths))]


def replay_samples(cfg: TrainConfig, answers: dict[str, str], tokenizer) -> tuple[list[dict], dict[str, list]]:
    """The replay conversations (for the run directory) and their input_ids/labels columns."""
    system = [{"role": "system", "content": cfg.data.system_prompt}] if cfg.data.system_prompt is not None else []
    records, columns = [], {"input_ids": [], "labels": []}
    for prompt, answer in answers.items():
        if not answer:
            continue  # nothing complete to replay
        messages = system + [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        ids, labels = tokenize_chat(messages, tokenizer, cfg.data.train_on, where=f"replay prompt {prompt[:40]!r}")
        ids, labels = ids[: cfg.data.max_seq_length], labels[: cfg.data.max_seq_length]
        if all(label == IGNORE_INDEX for label in labels):
            continue
        records.append({"messages": messages})
        columns["input_ids"].append(ids)
        columns["labels"].append(labels)
    return records, columns


def mix(train_ds, columns: dict[str, list], seed: int, indexed: bool = False):
    """The training samples with the replay samples, shuffled together (same columns, same order of keys).
    `indexed`: a `replay_index` column says which replay sample a row is (-1: a training sample)."""
    import datasets

    if not columns["input_ids"]:
        return train_ds
    replay = datasets.Dataset.from_dict({name: columns[name] for name in train_ds.column_names}, features=train_ds.features)
    if indexed:
        train_ds = train_ds.add_column(REPLAY_INDEX, [-1] * len(train_ds))
        replay = replay.add_column(REPLAY_INDEX, list(range(len(replay))))
    return datasets.concatenate_datasets([train_ds, replay]).shuffle(seed=seed).flatten_indices()


def build(cfg: TrainConfig, model, tokenizer, model_path: str, train_ds) -> tuple[object, list[dict], list | None]:
    """(the training set with replay mixed in, the replay conversations, the base model's distributions
    over each replayed answer for replay.loss=kl, else None); unchanged when replay.ratio is 0."""
    if cfg.replay.ratio <= 0:
        return train_ds, [], None
    if "labels" not in train_ds.column_names:
        raise UserError("replay needs conversation-shaped training data (chat, alpaca, qa); not plain text")
    prompts = choose(all_prompts(cfg), len(train_ds), cfg.replay.ratio, cfg.training.seed)
    answers = base_answers(cfg, model, tokenizer, model_path, prompts)
    records, columns = replay_samples(cfg, answers, tokenizer)
    teacher = None
    if cfg.replay.loss == "kl" and columns["input_ids"]:
        teacher = cached_teacher(cfg, model, model_path, columns)
    return mix(train_ds, columns, cfg.training.seed, indexed=teacher is not None), records, teacher
