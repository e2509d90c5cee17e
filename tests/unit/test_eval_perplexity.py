"""Perplexity: exp of the mean token NLL, checked against a direct computation on a tiny model."""

import math

import pytest
import torch

from knowtune.evaluate.eval_data import EvalDataset, EvalItem
from knowtune.evaluate.perplexity import windows
from knowtune.evaluate.scoring import evaluate_dataset
from knowtune.models import load_model, load_tokenizer

TEXTS = [
    "The quick brown fox jumps over the lazy dog. Paris is the capital of France.",
    "Zorblat Quennet lighthouse engineer",
]


@pytest.fixture(scope="module")
def tiny(tiny_llama):
    return load_model(str(tiny_llama)), load_tokenizer(str(tiny_llama))


def _dataset(texts):
    return EvalDataset("texts", "texts.jsonl", "perplexity", [EvalItem(f"texts.jsonl:{i + 1}", t) for i, t in enumerate(texts)],
                       len(texts), [], None)


def _token_nll(model, context: list[int], target: int) -> float:
    """-log p(target | context), from a forward pass over the context alone."""
    with torch.no_grad():
        logits = model(torch.tensor([context])).logits[0, -1].double()
    return -torch.log_softmax(logits, -1)[target].item()


@pytest.mark.parametrize("n, max_length, stride", [(1, 8, 4), (10, 8, 4), (30, 8, 3), (30, 8, 7), (17, 5, 1), (9, 9, 2), (40, 16, 5)])
def test_windows_score_every_token_once_with_enough_context(n, max_length, stride):
    ids = list(range(n))
    scored = []
    for w in windows(ids, max_length, stride):
        assert len(w.ids) <= max_length
        start = w.ids[0]
        for position in range(max(w.context, 1), len(w.ids)):
            scored.append(start + position)
            if start > 0:  # after the first window, at least max_length - stride tokens of context
                assert position >= max_length - stride
    assert scored == list(range(1, n))


def test_perplexity_is_exp_of_the_mean_token_nll(tiny):
    model, tokenizer = tiny
    nll, count = 0.0, 0
    for text in TEXTS:
        ids = tokenizer(text)["input_ids"]
        nll += sum(_token_nll(model, ids[:t], ids[t]) for t in range(1, len(ids)))
        count += len(ids) - 1
    # Batch of 2: the shorter text is right padded, which must not change its score.
    result = evaluate_dataset(model, tokenizer, _dataset(TEXTS), batch_size=2, max_length=512, stride=256)
    assert result["tokens"] == count
    assert result["windows"] == 2
    assert result["mean_nll"] == pytest.approx(nll / count, rel=1e-5)
    assert result["perplexity"] == pytest.approx(math.exp(nll / count), rel=1e-5)


def test_sliding_window_gives_each_token_its_last_max_length_minus_one_tokens(tiny):
    model, tokenizer = tiny
    ids = tokenizer(TEXTS[0])["input_ids"]
    max_length = 8
    assert len(ids) > 2 * max_length
    # With stride 1, token t is predicted from the max_length - 1 tokens before it (fewer at the start).
    nll = sum(_token_nll(model, ids[max(0, t - max_length + 1) : t], ids[t]) for t in range(1, len(ids)))
    result = evaluate_dataset(model, tokenizer, _dataset(TEXTS[:1]), batch_size=4, max_length=max_length, stride=1)
    assert result["tokens"] == len(ids) - 1
    assert result["windows"] == len(ids) - max_length + 1
    assert result["perplexity"] == pytest.approx(math.exp(nll / (len(ids) - 1)), rel=1e-5)


def test_per_text_lines_are_streamed(tiny, tmp_path):
    import json

    model, tokenizer = tiny
    with (tmp_path / "p.jsonl").open("w") as sink:
        result = evaluate_dataset(model, tokenizer, _dataset(TEXTS), batch_size=1, max_length=8, stride=4, sink=sink)
    lines = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert sorted(line["index"] for line in lines) == [0, 1]
    assert sum(line["tokens"] for line in lines) == result["tokens"]
    assert math.exp(sum(line["nll"] for line in lines) / result["tokens"]) == pytest.approx(result["perplexity"])
