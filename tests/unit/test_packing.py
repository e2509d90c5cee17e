"""Padding-free batches: no sample attends to another, the loss is the padded baseline's, training runs."""

import json

import numpy as np
import pytest
import torch
from transformers import DataCollatorForSeq2Seq
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from knowtune.data.tokenize import IGNORE_INDEX, build_datasets
from knowtune.models import load_model, load_tokenizer
from knowtune.train.generation_eval import GenerationEvalTrainer
from knowtune.train.methods import build_model
from knowtune.train.run import run, trainer_args
from knowtune.train.speed import padding_free_problem, settle_padding_free
from tests.conftest import write_jsonl
from tests.unit.test_train import make_cfg

QA = [("What is the capital of France?", "Paris is the capital."),
      ("Who is the lighthouse engineer on the northern coast?", "Vashti Quennet, since the storm of the old year."),
      ("Where?", "North."),
      ("Which river runs through the town of Vellmoor and where does it meet the sea?", "The Tarn, at Kestavel Bay.")]


@pytest.fixture
def varied_qa(tmp_path):
    return write_jsonl(tmp_path / "varied.jsonl", [{"question": q, "answer": a} for q, a in QA])


def samples(model_dir, data):
    tokenizer = load_tokenizer(str(model_dir))
    train, _, _ = build_datasets(make_cfg(model_dir, data, "unused").data, tokenizer, seed=0)
    return tokenizer, train, [train[i] for i in range(len(train))]


def token_losses(model, batch) -> torch.Tensor:
    """The loss of every trained token of `batch`, in order (labels shift by one)."""
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "position_ids") if k in batch}
    with torch.no_grad():
        logits = model(**inputs, use_cache=False).logits
    targets = batch["labels"][:, 1:].flatten()
    losses = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), targets, reduction="none")
    return losses[targets != IGNORE_INDEX]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_padding_free_batch_loss_is_the_sum_of_the_samples_alone(tiny_llama, varied_qa, attention):
    tokenizer, _, rows = samples(tiny_llama, varied_qa)
    assert len({len(r["input_ids"]) for r in rows}) == len(rows)  # lengths differ: a padded batch would pad
    model = load_model(str(tiny_llama), attn_implementation=attention).eval()
    alone = torch.cat([token_losses(model, DataCollatorForLanguageModeling(pad_token_id=0)([row])) for row in rows])
    packed_batch = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)(rows)
    assert packed_batch["input_ids"].shape == (1, sum(len(r["input_ids"]) for r in rows))
    packed = token_losses(model, packed_batch)
    # Token by token, so a leak cannot hide in a sum; the sum is the loss the trainer backpropagates.
    torch.testing.assert_close(packed, alone, rtol=1e-5, atol=1e-5)
    assert packed.sum().item() == pytest.approx(alone.sum().item(), rel=1e-6)
    # The same row read as one long sample (positions 0..N-1) lets samples attend to the ones before them.
    one_sample = dict(packed_batch, position_ids=torch.arange(packed_batch["input_ids"].shape[1])[None])
    assert (token_losses(model, one_sample) - alone).abs().max() > 1e-3


def test_knowtune_loss_equals_the_padded_trainer_baseline(tiny_llama, varied_qa, tmp_path):
    cfg = make_cfg(tiny_llama, varied_qa, tmp_path, "lora.dropout=0")
    tokenizer, train, rows = samples(tiny_llama, varied_qa)
    model, _ = build_model(cfg, str(tiny_llama))
    with torch.no_grad():  # LoRA B starts at zero: give the adapters a say in the loss
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.1)
    args = trainer_args(cfg, tmp_path / "run", has_eval=False)
    settle_padding_free(args, model)
    trainer = GenerationEvalTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer)
    batch = trainer.data_collator(rows)
    assert "attention_mask" not in batch and batch["input_ids"].shape[0] == 1  # knowtune's default: padding-free
    model.eval()
    ours = trainer.compute_loss(model, dict(batch))
    # The seeds' script: every sample padded to max_seq_length, transformers' own loss.
    padded = DataCollatorForSeq2Seq(tokenizer, padding="max_length", max_length=cfg.data.max_seq_length,
                                    label_pad_token_id=IGNORE_INDEX)(
        [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows])
    assert padded["input_ids"].shape == (len(rows), cfg.data.max_seq_length)
    with torch.no_grad():
        baseline = model(**padded).loss
    assert ours.item() == pytest.approx(baseline.item(), rel=1e-5)


def test_default_run_trains_padding_free(tiny_llama, qa_file, tmp_path):
    result = run(make_cfg(tiny_llama, qa_file, tmp_path, "training.learning_rate=1e-2", "training.max_steps=8",
                          "training.per_device_train_batch_size=4"))
    assert result.metrics["train"]["train_loss"] > 0
    losses = np.load(result.run_dir / "losses.npy")
    assert losses[-2:].mean() < losses[:2].mean()
    log = (result.run_dir / "training.log").read_text()
    assert "padding-free batches are off" not in log
    # The trainer counted only real tokens: no padding went through the model.
    saved = json.loads((result.run_dir / "training_metrics.json").read_text())
    num_tokens = [h["num_tokens"] for h in saved["log_history"] if "num_tokens" in h]
    assert num_tokens[-1] == pytest.approx(8 * 4 / 16 * saved["data"]["train_tokens"])


def test_a_model_that_cannot_pack_keeps_padded_batches(tiny_llama, caplog):
    model = load_model(str(tiny_llama))
    assert padding_free_problem(model) is None
    model.config._attn_implementation = "paged|sdpa"  # reads no sample boundaries from position_ids

    class Args:
        padding_free = True

    args = Args()
    with caplog.at_level("WARNING", logger="knowtune"):
        settle_padding_free(args, model)
    assert args.padding_free is False
    assert "padding-free batches are off (attention implementation 'paged|sdpa')" in caplog.text
