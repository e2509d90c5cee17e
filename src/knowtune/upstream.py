"""Every place knowtune reaches under the public API of TRL and transformers, and the probe for them.

knowtune's own loss, replay and task metrics live inside TRL's SFTTrainer (knowtune.train.trainer),
and the shipped GGUF model is saved as a plain model (knowtune.models.shipped); both need names that
the libraries keep private and may rename in any release. They are used here and nowhere else, the
libraries are pinned in pyproject.toml to the minor versions tested (TESTED), and `check()` probes
every name once when a training run sets up: a missing one stops the run before anything loads,
with one line naming the versions, instead of a traceback at step 1. The chat template rendered
directly for tokenizing (`chat_template_renderer`) is a speed-up with a fallback: the tests probe it,
runs do not stop for it.
"""

from __future__ import annotations

import functools
import importlib.metadata
import inspect

from knowtune.errors import UserError

TESTED = {"trl": "1.16", "transformers": "5.24"}  # keep in step with pyproject.toml's pins

# Keyword arguments TRL's SFTTrainer.compute_loss adds to the model call (knowtune.train.loss takes
# them out of a forward that returns hidden states instead of logits).
TRL_FORWARD_KWARGS = ("num_items_in_batch", "shift_labels", "fused_lm_head")


def _probes() -> dict[str, callable]:
    """What each private name is, and a check that it is still there."""

    def triton_switch():
        from trl.kernels import chunked_logprob

        chunked_logprob._use_triton  # noqa: B018 (an AttributeError when it is gone)

    def sft_trainer_state():
        from trl import SFTTrainer

        source = inspect.getsource(SFTTrainer.__init__)
        for name in ("self._metrics", "self._total_train_tokens", "self._tp_size"):
            if name not in source:
                raise AttributeError(name)

    def signature_columns():
        from transformers import Trainer

        if "self._signature_columns" not in inspect.getsource(Trainer._set_signature_columns_if_needed):
            raise AttributeError("_signature_columns")

    def attention_implementation():
        from transformers import PretrainedConfig

        if not hasattr(PretrainedConfig(), "_attn_implementation"):
            raise AttributeError("_attn_implementation")

    def gguf_quantizer():
        from transformers import PreTrainedModel

        if "model.hf_quantizer = " not in inspect.getsource(PreTrainedModel.from_pretrained):
            raise AttributeError("hf_quantizer")

    return {
        "trl.kernels.chunked_logprob._use_triton (does TRL's fused LM head run here)": triton_switch,
        "SFTTrainer._metrics, _total_train_tokens, _tp_size (the metrics TRL logs)": sft_trainer_state,
        "Trainer._set_signature_columns_if_needed / _signature_columns (dataset columns kept)": signature_columns,
        "PretrainedConfig._attn_implementation (the attention a loaded model runs)": attention_implementation,
        "PreTrainedModel.hf_quantizer (a dequantized GGUF saved as a plain model)": gguf_quantizer,
    }


def _speedup_probes() -> dict[str, callable]:
    """Private names behind a speed-up that falls back to the public API without them: checked by the
    tests (a release that drops one makes knowtune slower, not wrong), never a reason to stop a run."""

    def compiled_chat_template():
        from transformers.utils.chat_template_utils import _compile_jinja_template

        template = _compile_jinja_template("{{ messages[0]['content'] }}")
        render = _context_renderer(template, {})
        if render({"messages": [{"content": "x"}]}) != "x":
            raise AttributeError("_compile_jinja_template renders differently")

    return {"transformers.utils.chat_template_utils._compile_jinja_template (chats rendered for training)":
            compiled_chat_template}


def problems(speedups: bool = False) -> list[str]:
    """The private names this installation lacks (empty when all are there); with `speedups`, also those
    of the speed-ups that have a fallback."""
    missing = []
    probes = {**_probes(), **(_speedup_probes() if speedups else {})}
    for what, probe in probes.items():
        try:
            probe()
        except (ImportError, AttributeError, TypeError, OSError):
            missing.append(what)
    return missing


def installed() -> str:
    return ", ".join(f"{name} {importlib.metadata.version(name)}" for name in TESTED)


@functools.cache
def check() -> None:
    """Fail in one line when the installed TRL or transformers lacks a private name knowtune uses."""
    missing = problems()
    if missing:
        pins = " ".join(f"'{name}=={version}.*'" for name, version in TESTED.items())
        raise UserError(
            f"knowtune is tested with {', '.join(f'{n} {v}' for n, v in TESTED.items())}; this machine has "
            f"{installed()}, which lacks {'; '.join(missing)}. Install the tested versions: pip install {pins}"
        )


# --- the uses ----------------------------------------------------------------------------------


def trl_fused_head_runs_on(device) -> bool:
    """Whether TRL's fused (Triton) LM head, which builds no whole logits either, runs on `device`."""
    from trl.kernels.chunked_logprob import _use_triton

    return _use_triton(device)


def attention_implementation(model) -> str | None:
    """The attention implementation a loaded model runs (sdpa, eager, flash_attention_2, ...)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT wraps it
    return getattr(base.config, "_attn_implementation", None)


def drop_gguf_quantizer(model) -> None:
    """A model read from a GGUF file is dequantized already, but still marked quantized: unmark it, so
    that save_pretrained writes a plain model."""
    model.hf_quantizer = None
    model.config.__dict__.pop("quantization_config", None)
    model.__dict__.pop("is_quantized", None)


def chat_template_renderer(tokenizer):
    """`render(messages, add_generation_prompt) -> str`: the tokenizer's chat template rendered as
    `apply_chat_template(..., tokenize=False)` renders it for plain {role, content} string messages and no
    tools, without the per-call work that function does on every conversation (half of tokenizing a short
    Q&A record). The caller compares it with apply_chat_template on a sample and falls back when they differ.
    """
    from transformers.utils.chat_template_utils import _compile_jinja_template

    template = _compile_jinja_template(tokenizer.get_chat_template())
    render = _context_renderer(template, {**tokenizer.special_tokens_map, "tools": None, "documents": None})
    return lambda messages, add_generation_prompt=False: render(
        {"messages": messages, "add_generation_prompt": add_generation_prompt})


def _context_renderer(template, fixed: dict):
    """`template.render(**fixed, **variables)` as a function of `variables`: Template.render merges the
    template's globals into every context; here they are merged once (jinja's shared context)."""
    base = {**template.globals, **fixed}

    def render(variables: dict) -> str:
        context = template.new_context({**base, **variables}, shared=True)
        try:
            return template.environment.concat(template.root_render_func(context))
        except Exception:  # noqa: BLE001 (as Template.render does: jinja's own exception, with the template's lines)
            template.environment.handle_exception()

    return render


class SFTTrainerInternals:
    """Mixed in before TRL's SFTTrainer: the trainer state knowtune's own loss path reads and writes."""

    extra_columns: tuple[str, ...] = ()  # dataset columns the model does not take but the collator needs

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        missing = [c for c in self.extra_columns if c not in self._signature_columns]
        if missing:
            self._signature_columns = [*self._signature_columns, *missing]

    @property
    def tensor_parallel_size(self) -> int:
        return self._tp_size

    def log_token_metrics(self, accuracy: float, tokens: int) -> None:
        """What TRL logs on its own loss path: mean token accuracy, and the tokens trained so far."""
        self._metrics["train"]["mean_token_accuracy"].append(accuracy)
        self._total_train_tokens += tokens
        self._metrics["train"]["num_tokens"] = [self._total_train_tokens]
