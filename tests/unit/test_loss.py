"""knowtune's training forward (knowtune.train.loss): a prefix every row shares runs once, with the loss and
the gradients of the whole batch run as it is."""

import pytest
import torch
from peft import LoraConfig, get_peft_model

from knowtune.data import IGNORE_INDEX
from knowtune.models import load_model
from knowtune.train import loss as knowtune_loss

PREFIX = [5, 9, 14, 3, 7, 21, 8, 30, 11, 4]  # a system prompt's tokens: every row starts with them


def right_padded(rows: list[list[int]], trained_from: int) -> dict:
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    labels = ids.masked_fill(mask == 0, IGNORE_INDEX)
    labels[:, :trained_from] = IGNORE_INDEX
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def loss_and_grads(model, batch) -> tuple[float, torch.Tensor, list[tuple]]:
    base = model.get_base_model()
    embedded = []
    hook = base.get_input_embeddings().register_forward_hook(lambda m, a, out: embedded.append(tuple(out.shape[:2])))
    model.zero_grad()
    out = model(**batch, use_cache=False, knowtune_hidden=True)
    total, _ = knowtune_loss.token_loss(out.hidden, base.get_output_embeddings(), out.targets)
    (total / out.targets.numel()).backward()
    hook.remove()
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    return total.item(), grads, embedded


@pytest.fixture
def lora_model(tiny_llama):
    torch.manual_seed(0)
    model = get_peft_model(load_model(str(tiny_llama)), LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    knowtune_loss.add_hidden_output(model.get_base_model())
    return model.train()


def test_shared_prefix_runs_once_with_the_whole_batchs_loss_and_gradients(lora_model, monkeypatch):
    rows = [PREFIX + [40, 41, 42, 43, 44, 45], PREFIX + [50, 51], PREFIX + [60, 61, 62, 63], PREFIX + [40, 41, 70]]
    batch = right_padded(rows, trained_from=len(PREFIX) + 1)
    assert knowtune_loss.shared_prefix(batch["input_ids"], batch["attention_mask"]) == len(PREFIX)
    once, once_grads, once_shapes = loss_and_grads(lora_model, batch)
    assert once_shapes == [(1, len(PREFIX)), (4, 6)]  # the prefix once, then each row's own tokens
    monkeypatch.setattr(knowtune_loss, "SHARED_PREFIX_MIN", 10**6)
    whole, whole_grads, whole_shapes = loss_and_grads(lora_model, batch)
    assert whole_shapes == [(4, len(PREFIX) + 6)]
    assert once == pytest.approx(whole, rel=1e-5)
    torch.testing.assert_close(once_grads, whole_grads, rtol=1e-4, atol=1e-6)
    assert once_grads.abs().sum() > 0


def test_batches_without_a_shared_start_run_as_they_are(lora_model):
    ids = torch.tensor([PREFIX + [40, 41], PREFIX + [50, 51]])
    left_padded = torch.tensor([[0] + PREFIX + [40], PREFIX + [50, 51]])
    mask = torch.tensor([[0] + [1] * 11, [1] * 12])
    assert knowtune_loss.shared_prefix(left_padded, mask) == 0  # a row that does not start at position 0
    assert knowtune_loss.shared_prefix(ids[:1], None) == 0  # one row: nothing to share
    assert knowtune_loss.shared_prefix(ids, None) == len(PREFIX)
    # Every token the same: each row still keeps one of its own.
    assert knowtune_loss.shared_prefix(torch.tensor([PREFIX, PREFIX]), None) == len(PREFIX) - 1
    short = right_padded([[5, 9, 14, 40, 41], [5, 9, 14, 50]], trained_from=3)  # 3 shared tokens: below the minimum
    _, _, shapes = loss_and_grads(lora_model, short)
    assert shapes == [(2, 5)]
    packed = dict(right_padded([PREFIX + [40, 41], PREFIX + [50, 51]], trained_from=11),
                  position_ids=torch.arange(12)[None].expand(2, -1))
    _, _, shapes = loss_and_grads(lora_model, packed)  # position ids given (padding-free): left as they are
    assert shapes == [(2, 12)]


def test_teacher_distributions_are_the_models_own_top_tokens(lora_model):
    rows = [PREFIX + [40, 41, 42, 43, 44, 45], PREFIX + [50, 51], PREFIX + [60, 61, 62, 63]]
    batch = right_padded(rows, trained_from=len(PREFIX) + 1)
    columns = {"input_ids": rows, "labels": [[int(x) for x in r[: len(ids)]] for r, ids in zip(batch["labels"], rows)]}
    teacher = knowtune_loss.teacher_distributions(lora_model, columns, top_k=5, batch_size=8)
    assert lora_model.training  # left as it was
    with torch.no_grad():
        logits = lora_model.eval()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    for row, (ids, logp) in enumerate(teacher):
        trained = batch["labels"][row, 1:] != IGNORE_INDEX
        expected = logits[row, :-1][trained].log_softmax(-1).topk(5, dim=-1)
        assert ids.shape == (int(trained.sum()), 5)
        torch.testing.assert_close(logp, expected.values, rtol=1e-4, atol=1e-5)
        assert torch.equal(ids, expected.indices)


def test_sharded_weights_run_the_batch_as_it_is(lora_model, monkeypatch):
    rows = [PREFIX + [40, 41, 42], PREFIX + [50, 51]]
    batch = right_padded(rows, trained_from=len(PREFIX) + 1)
    weight = next(lora_model.parameters())
    monkeypatch.setattr(weight, "ds_id", 0, raising=False)  # what DeepSpeed ZeRO-3 puts on each weight it shards
    _, _, shapes = loss_and_grads(lora_model, batch)
    assert shapes == [(2, len(PREFIX) + 3)]
