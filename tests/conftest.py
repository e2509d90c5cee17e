import json
import os
from pathlib import Path

import pytest

# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items):
    """Every test under tests/integration is an integration test (the shipped model, the real CLI)."""
    for item in items:
        if (REPO / "tests" / "integration") in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def data_cache(tmp_path, monkeypatch) -> Path:
    """Each test tokenizes into its own cache, and keeps base-model answers (evaluation's, replay's) in its own,
    never in the user's."""
    monkeypatch.setenv("KNOWTUNE_DATA_CACHE", str(tmp_path / "data-cache"))
    monkeypatch.setenv("KNOWTUNE_ANSWER_CACHE", str(tmp_path / "answer-cache"))
    monkeypatch.setenv("KNOWTUNE_REPLAY_CACHE", str(tmp_path / "replay-cache"))
    return tmp_path / "data-cache"


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    from tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), arch="llama")


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory) -> Path:
    from tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2"), arch="qwen2")


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def qa_file(tmp_path) -> Path:
    """Sixteen QA pairs about two facts: enough for a tiny model's loss to fall in a few steps."""
    facts = [("What is the capital of France?", "Paris is the capital."),
             ("Who is the lighthouse engineer?", "Vashti Quennet.")]
    return write_jsonl(tmp_path / "qa.jsonl", [{"question": q, "answer": a} for q, a in facts * 8])


@pytest.fixture
def fails_with(capsys):
    """`fails_with(argv, *fragments)`: the CLI exits 2 with one line on stderr holding every fragment."""
    from knowtune.cli import main

    def check(argv, *fragments):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        for fragment in fragments:
            assert fragment in err, err
        return err

    return check


@pytest.fixture(scope="session")
def tiny_run(tiny_llama, tmp_path_factory) -> Path:
    """A run directory holding a LoRA adapter (non-zero weights) on the tiny Llama, as `knowtune train` leaves it."""
    from peft import LoraConfig, get_peft_model

    from knowtune.models import load_model, load_tokenizer

    run = tmp_path_factory.mktemp("runs") / "run"
    model = get_peft_model(load_model(str(tiny_llama)), LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    model.save_pretrained(run / "final_model")
    load_tokenizer(str(tiny_llama)).save_pretrained(run / "final_model")
    (run / "config.yaml").write_text(f"model: {tiny_llama}\n", encoding="utf-8")
    return run
