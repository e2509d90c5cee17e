"""GGUF files through llama.cpp's own converter and runtime (both from the llama-cpp-python package).

The converter is llama.cpp's `convert_hf_to_gguf.py` with the `gguf-py` it is written against,
taken by the Makefile from the same llama-cpp-python source release that is compiled as the
runtime, so the writer and the reader of a file are one llama.cpp version. It runs in a
subprocess: it puts its own `gguf` package first on sys.path, and knowtune keeps the PyPI one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from knowtune.errors import UserError

# Types the converter writes itself; f16 keeps every weight a float32 model holds to 3 digits.
CONVERTER_TYPES = ("f32", "f16", "bf16", "q8_0")
# Architectures tested here (tests/unit/test_deploy_export.py); others the converter knows may work.
TESTED_ARCHITECTURES = ("LlamaForCausalLM", "Qwen2ForCausalLM")
CONVERTER_ENV = "KNOWTUNE_GGUF_CONVERTER"
INSTALL_HINT = "run `make install` (it unpacks llama.cpp's converter from the llama-cpp-python source release)"


def converter_script() -> Path:
    """llama.cpp's convert_hf_to_gguf.py: $KNOWTUNE_GGUF_CONVERTER, else where the Makefile unpacks it."""
    default = Path(sys.prefix) / "share" / "knowtune" / "llama.cpp" / "convert_hf_to_gguf.py"
    script = Path(os.environ.get(CONVERTER_ENV) or default)
    if not script.is_file():
        raise UserError(f"llama.cpp's GGUF converter is not at {script}; {INSTALL_HINT}")
    return script


def require_llama_cpp():
    try:
        import llama_cpp
    except ImportError:
        raise UserError("llama-cpp-python is not installed; install it with: pip install 'knowtune[deploy]'") from None
    return llama_cpp


def _failure(stderr: str) -> str:
    """The converter's own last error line, which says what went wrong (unknown pre-tokenizer, ...)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line.split(":")[0] or line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1]


def architecture(model_dir: str | Path) -> str:
    config = Path(model_dir) / "config.json"
    if not config.is_file():
        raise UserError(f"{model_dir}: no config.json, so no architecture to convert")
    return (json.loads(config.read_text(encoding="utf-8")).get("architectures") or ["(none named)"])[0]


def check_architecture(model_dir: str | Path) -> None:
    """Refuse, before anything loads, an architecture llama.cpp's converter has no code for."""
    arch = architecture(model_dir)
    listing = subprocess.run([sys.executable, str(converter_script()), "--print-supported-models"],
                             capture_output=True, text=True).stderr
    text_models = listing.split("TEXT models:")[-1].split("MMPROJ models:")[0]
    supported = {line.strip()[2:] for line in text_models.splitlines() if line.strip().startswith("- ")}
    if arch not in supported:
        raise UserError(f"{model_dir}: architecture {arch} has no GGUF conversion in llama.cpp's converter "
                        f"(tested here: {', '.join(TESTED_ARCHITECTURES)}); export --format merged instead")


def convert(model_dir: Path, out_file: Path, outtype: str) -> None:
    """Write `out_file` from a transformers model directory (weights, config, tokenizer)."""
    arch = architecture(model_dir)
    script = converter_script()
    result = subprocess.run(
        [sys.executable, str(script), str(model_dir), "--outfile", str(out_file), "--outtype", outtype],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        out_file.unlink(missing_ok=True)
        reason = _failure(result.stderr)
        if "not supported" in reason:
            raise UserError(f"{model_dir}: architecture {arch} cannot be converted to GGUF by llama.cpp ({reason})")
        raise UserError(f"llama.cpp's converter failed on {model_dir} ({arch}): {reason}")


def metadata(path: Path) -> dict:
    """The GGUF fields a check needs: chat template, end-of-sequence token, architecture."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))

    def field(name):
        f = reader.fields.get(name)
        return None if f is None else f.contents()

    return {
        "architecture": field("general.architecture"),
        "chat_template": field("tokenizer.chat_template"),
        "eos_token_id": field("tokenizer.ggml.eos_token_id"),
        "file_type": field("general.file_type"),
    }


def load_llama(path: Path, n_ctx: int = 2048):
    """A llama.cpp model from a GGUF file, quiet, deterministic."""
    llama_cpp = require_llama_cpp()
    return llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, seed=0, verbose=False)
