"""Padding-free batches: no sample attends to another, the loss is the padded baseline's, training runs."""

import json

import numpy as np
import pytest
import torch
from transformers import DataCollatorForSeq2Seq
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from knowtune.data import IGNORE_INDEX, build_datasets
from knowtune.models import load_model, load_tokenizer
from knowtune.train.trainer import GenerationEvalTrainer
from knowtune.train.methods import build_model
from knowtune.train.run import run
from knowtune.train.arguments import settle_batching, trainer_args
from knowtune.train.batching import padding_free_problem
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


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("batching", ["padding_free", "by_length"])
def test_knowtune_loss_equals_the_padded_trainer_baseline(tiny_llama, varied_qa, tmp_path, batching):
    cfg = make_cfg(tiny_llama, varied_qa, tmp_path, "lora.dropout=0")
    tokenizer, train, rows = samples(tiny_llama, varied_qa)
    model, _ = build_model(cfg, str(tiny_llama))
    with torch.no_grad():  # LoRA B starts at zero: give the adapters a say in the loss
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.1)
    args = trainer_args(cfg, tmp_path / "run", has_eval=False)
    assert settle_batching(args, model, batching) == batching
    trainer = GenerationEvalTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer)
    batch = trainer.data_collator(rows)
    longest = max(len(r["input_ids"]) for r in rows)
    expected = (1, sum(len(r["input_ids"]) for r in rows)) if batching == "padding_free" else (len(rows), longest)
    assert batch["input_ids"].shape == expected
    model.eval()
    ours = trainer.compute_loss(model, dict(batch))  # evaluation: TRL's fused head
    model.train()  # training: knowtune's compact head (knowtune.train.loss), dropout is 0
    ours_training = trainer.compute_loss(model, dict(batch))
    # The seeds' script: every sample padded to max_seq_length, transformers' own loss.
    padded = DataCollatorForSeq2Seq(tokenizer, padding="max_length", max_length=cfg.data.max_seq_length,
                                    label_pad_token_id=IGNORE_INDEX)(
        [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows])
    assert padded["input_ids"].shape == (len(rows), cfg.data.max_seq_length)
    with torch.no_grad():
        baseline = model(**padded).loss
    assert ours.item() == pytest.approx(baseline.item(), rel=1e-5)
    assert ours_training.item() == pytest.approx(baseline.item(), rel=1e-5)


@pytest.mark.slow
def test_default_run_trains_on_length_grouped_batches(tiny_llama, qa_file, tmp_path):
    result = run(make_cfg(tiny_llama, qa_file, tmp_path, "training.learning_rate=1e-2", "training.max_steps=8",
                          "training.per_device_train_batch_size=4"))
    losses = np.load(result.run_dir / "losses.npy")
    assert len(losses) == 8 and losses[-2:].mean() < losses[:2].mean()
    assert "batching: by_length" in (result.run_dir / "training.log").read_text()  # auto, sdpa on a CPU
    # Two epochs went through the model, every sample once per epoch.
    saved = json.loads((result.run_dir / "training_metrics.json").read_text())
    num_tokens = [h["num_tokens"] for h in saved["log_history"] if "num_tokens" in h]
    assert num_tokens[-1] == 2 * saved["data"]["train_tokens"]


def test_auto_batching_and_the_fallback_for_a_model_that_cannot_pack(tiny_llama, caplog, tmp_path):
    model = load_model(str(tiny_llama))
    assert padding_free_problem(model) is None

    class Args:
        padding_free, max_length, train_sampling_strategy = False, 64, "random"

    model.config._attn_implementation = "flash_attention_2"  # only read here, nothing runs
    assert settle_batching(Args(), model, "auto") == "padding_free"
    model.config._attn_implementation = "paged|sdpa"  # reads no sample boundaries from position_ids
    args = Args()
    with caplog.at_level("WARNING", logger="knowtune"):
        assert settle_batching(args, model, "padding_free") == "by_length"
    assert not args.padding_free and args.train_sampling_strategy == "group_by_length"
    assert "batching=padding_free is off (attention implementation 'paged|sdpa')" in caplog.text
