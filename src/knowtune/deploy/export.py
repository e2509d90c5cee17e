"""`knowtune export`: a run's model as a merged transformers model, a GGUF file, or a GGUF plus an Ollama Modelfile.

Reads top to bottom: resolve and check everything (nothing loads before the inputs are known good),
load the run's model (an adapter merged into its base), ask it the questions, write the export into
a hidden folder beside the output, ask the export the same questions through its own engine, then
rename the folder into place. A failed check leaves OUTPUT.failed/ (with verify.json, to look at),
never a folder under the output's name.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from knowtune.deploy import gguf, verify
from knowtune.deploy.ollama import ChatPieces, chat_pieces, modelfile
from knowtune.deploy.source import Source, load_source, no_rope_layers, resolve_source
from knowtune.errors import UserError
from knowtune.fileio import write_atomic, write_json
from knowtune.models import load_tokenizer

DTYPES = {"float32", "float16", "bfloat16"}


class ExportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="A run directory (runs/NAME), its final_model/, or a model directory.")
    format: Literal["merged", "gguf", "ollama"] = Field(
        "gguf", description="merged: a transformers model in safetensors; gguf: one file for llama.cpp; "
        "ollama: the GGUF and a Modelfile with the model's chat template.")
    quantization: Literal["f32", "f16", "bf16", "q8_0"] = Field(
        "f16", description="GGUF weight type, written by llama.cpp's converter (gguf and ollama).")
    dtype: Literal["float32", "float16", "bfloat16"] = Field(
        "float32", description="Weight dtype of a merged export (float32 is what a CPU run trained in).")
    output: str | None = Field(None, description="Folder to create (default RUN_DIR/export/FORMAT-TYPE); must not exist.")
    verify: bool = Field(True, description="Ask the export the run's held-out and retention questions; fail if it lost any.")
    questions: list[str] = Field(default_factory=list, description="More QA JSONL files to ask (question/answer).")
    max_questions: int | None = Field(None, ge=1, description="Ask at most this many questions of each set (its first "
                                      "ones): a quicker, weaker check; default all.")


def _output(cfg: ExportConfig, source: Source) -> Path:
    if cfg.output:
        out = Path(cfg.output).expanduser()
    else:
        kind = cfg.dtype if cfg.format == "merged" else cfg.quantization
        out = (source.run_dir or source.model_dir) / "export" / f"{cfg.format}-{kind}"
    if out.exists():
        raise UserError(f"{out} already exists; remove it or give another --output")
    return out


def _save_merged(model, tokenizer, folder: Path, dtype: str) -> None:
    import torch

    if model.generation_config.eos_token_id is None:
        model.generation_config.eos_token_id = tokenizer.eos_token_id  # generation ends at the end of the turn
    model.to(getattr(torch, dtype)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _template_problem(gguf_file: Path, tokenizer) -> str | None:
    """What llama.cpp will lack to hold a conversation, read from the file itself."""
    meta = gguf.metadata(gguf_file)
    if not meta["chat_template"]:
        return "the GGUF holds no chat template (tokenizer.chat_template)"
    if meta["chat_template"] != tokenizer.chat_template:
        return "the GGUF's chat template is not the tokenizer's"
    return None


def _write_artifact(cfg: ExportConfig, source: Source, model, tokenizer, folder: Path, pieces: ChatPieces | None):
    """Write the export into `folder`; return (what loads it to answer, its engine, a template problem or None)."""
    if cfg.format == "merged":
        _save_merged(model, tokenizer, folder, cfg.dtype)

        def load_back():
            from transformers import AutoModelForCausalLM

            # From the files alone, as a user of the export loads them.
            return verify.transformers_answerer(AutoModelForCausalLM.from_pretrained(folder), load_tokenizer(str(folder)))

        return load_back, "transformers", None
    staging = folder / ".merged"
    _save_merged(model, tokenizer, staging, "float32")  # the converter quantizes from full precision
    gguf_file = folder / f"{source.name}-{cfg.quantization}.gguf"
    gguf.convert(staging, gguf_file, cfg.quantization)
    shutil.rmtree(staging)
    problem = _template_problem(gguf_file, tokenizer)
    if cfg.format == "gguf":
        return (lambda: verify.llama_chat_answerer(gguf.load_llama(gguf_file))), "llama.cpp", problem
    write_atomic(folder / "Modelfile", modelfile(gguf_file.name, pieces))

    def as_ollama_asks():
        return verify.llama_prompt_answerer(gguf.load_llama(gguf_file), pieces.render, pieces.stop)

    return as_ollama_asks, "llama.cpp, Modelfile template", None


def run_export(cfg: ExportConfig) -> Path:
    source = resolve_source(cfg.path)
    if cfg.format != "merged":
        if no_rope_layers(source):
            raise UserError(f"{source.model_dir}: trained with layers without RoPE, which GGUF cannot express; "
                            "export --format merged")
        gguf.check_architecture(source.base if source.adapter else source.model_dir)
        if cfg.verify:
            gguf.require_llama_cpp()
    # A chat template Ollama's TEMPLATE cannot express is refused now, not after minutes of conversion.
    pieces = chat_pieces(load_tokenizer(str(source.model_dir)), str(source.model_dir)) if cfg.format == "ollama" else None
    out = _output(cfg, source)
    sets = verify.question_sets(source.heldout, cfg.questions, source.system_prompt, cfg.max_questions) if cfg.verify else []
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        model, tokenizer = load_source(source)
        known = verify.recorded_answers(source.run_dir, source.model_dir, source.adapter, source.system_prompt, sets,
                                        tokenizer)
        if known:
            print(f"The run's model's answers to {', '.join(known)} are read from its evaluation "
                  f"({source.run_dir / 'eval'}), not asked again", flush=True)
        reference = verify.ask(sets, verify.transformers_answerer(model, tokenizer), known) if sets else None
        print(f"Exporting {source.model_dir} as {cfg.format} -> {out}", flush=True)
        load_answerer, engine, template_problem = _write_artifact(cfg, source, model, tokenizer, tmp, pieces)
        del model
        if sets:
            exported = verify.ask(verify.to_ask_the_export(sets, reference), load_answerer())
            table = verify.compare(reference, exported)
            print(verify.format_table(table, engine))
            ok = verify.passed(table)
            report = {"passed": ok, "engine": engine, "sets": table, "reference": reference, "exported": exported}
            if not ok:
                report["cause"] = verify.diagnose(table, template_problem, None if cfg.format == "merged" else cfg.quantization)
            write_json(tmp / "verify.json", report)
            if not ok:
                failed = out.with_name(out.name + ".failed")
                shutil.rmtree(failed, ignore_errors=True)
                tmp.rename(failed)
                raise UserError(f"export lost more than {verify.LOSS_ALLOWED} question on a set; "
                                f"cause: {report['cause']} (kept in {failed}, not in {out})")
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"Wrote {out}" + ("" if sets else " (not checked: --no-verify)"))
    return out
