from pathlib import Path

import pytest

from knowtune.config import load_config
from knowtune.errors import UserError
from knowtune.train.config import TrainConfig

REPO = Path(__file__).resolve().parents[2]


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  train: a.jsonl\ntraining:\n  learning_rate: 1.0e-4\n")
    cfg = load_config(TrainConfig, path, ["training.learning_rate=1e-3", "lora.target_modules=[q_proj,v_proj]",
                                          "data.max_seq_length=64", "training.gradient_checkpointing=true"])
    assert cfg.training.learning_rate == pytest.approx(1e-3)
    assert cfg.lora.target_modules == ["q_proj", "v_proj"]
    assert cfg.data.max_seq_length == 64 and cfg.data.train == ["a.jsonl"]
    assert cfg.training.gradient_checkpointing is True
    assert cfg.training.num_train_epochs == 3  # untouched defaults stay


def test_unknown_key_suggests_closest(tmp_path):
    with pytest.raises(UserError, match=r"unknown key 'training.learning_rat' \(did you mean 'training.learning_rate'\?\)"):
        load_config(TrainConfig, None, ["data.train=a.jsonl", "training.learning_rat=1e-3"])
    path = tmp_path / "c.yaml"
    path.write_text("data: {train: a.jsonl}\nmethd: lora\n")
    with pytest.raises(UserError, match=r"c.yaml: unknown key 'methd' \(did you mean 'method'\?\)"):
        load_config(TrainConfig, path)


def test_wrong_type_names_key_and_value():
    with pytest.raises(UserError, match=r"training.learning_rate: .*number.*'fast'"):
        load_config(TrainConfig, None, ["data.train=a.jsonl", "training.learning_rate=fast"])
    with pytest.raises(UserError, match=r"method: .*'lora'.*'dora'"):
        load_config(TrainConfig, None, ["data.train=a.jsonl", "method=dora"])


def test_cross_field_rules():
    with pytest.raises(UserError, match="method=freeze needs"):
        load_config(TrainConfig, None, ["data.train=a.jsonl", "method=freeze"])


def test_missing_data_is_named():
    with pytest.raises(UserError, match="missing required key 'data'"):
        load_config(TrainConfig, None, ["method=full"])


def test_bad_yaml_names_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model: x\ntraining: [unclosed\n")
    with pytest.raises(UserError, match=r"bad.yaml:\d+: invalid YAML"):
        load_config(TrainConfig, path)


@pytest.mark.parametrize("path", sorted(REPO.glob("examples/**/*.yaml")), ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_example_config_is_valid(path):
    # The folder says which command a config is for: examples/generate/ holds `knowtune generate` configs.
    if path.parent.name == "generate":
        from knowtune.synth.config import GenerateConfig

        load_config(GenerateConfig, path)
        return
    if path.parent.name == "run":  # `knowtune run` configs: every section checked as the job checks it
        from knowtune.experiments.job import RunConfig, check

        check(load_config(RunConfig, path))
        return
    if "sweep" in path.name:  # `knowtune sweep` configs: every variant must be a valid train config
        from knowtune.experiments.sweep_config import load_sweep, plan_trials

        trials = plan_trials(load_sweep(path), str(path))
        assert len(trials) >= 3 and not [t.error for t in trials if t.error]
        for t in trials:
            for data_file in [*t.config.data.train, *t.config.data.eval, *t.config.training.eval_datasets]:
                assert (REPO / data_file).exists(), f"{path.name} points at missing {data_file}"
        return
    cfg = load_config(TrainConfig, path)
    for data_file in [*cfg.data.train, *cfg.data.eval, *([cfg.heldout] if cfg.heldout else [])]:
        assert (REPO / data_file).exists(), f"{path.name} points at missing {data_file}"


def test_there_are_example_configs():
    assert list(REPO.glob("examples/**/*.yaml"))


def test_liger_kernel_only_when_asked_and_on_a_gpu(monkeypatch, tmp_path, caplog):
    import importlib.util

    import torch

    from knowtune.train.arguments import liger_kernel

    def cfg(*overrides):
        return load_config(TrainConfig, None, [f"model={tmp_path}", f"data.train={tmp_path / 'qa.jsonl'}", *overrides])

    installed = {"liger_kernel": True}
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: (object() if installed[name] else None) if name in installed else real_find_spec(name, *a))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert liger_kernel(cfg()) is False  # installed on a GPU, but not asked for: off (measured slower, README)
    assert liger_kernel(cfg("training.liger_kernel=true")) is True
    installed["liger_kernel"] = False
    with pytest.raises(UserError, match=r"liger-kernel is not installed; install it with: pip install 'knowtune\[liger\]'"):
        liger_kernel(cfg("training.liger_kernel=true"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert liger_kernel(cfg("training.liger_kernel=true")) is False
    assert "Liger Kernel runs on CUDA GPUs only" in caplog.text
