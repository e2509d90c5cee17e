"""`knowtune serve`: an OpenAI-compatible API (/v1/models, /v1/chat/completions, streaming) over a checked GGUF.

The server is llama-cpp-python's (FastAPI + uvicorn, llama.cpp underneath, the GGUF's own chat
template), not one of ours. A run or model directory is served through its GGUF export, the one
that passed `knowtune export`'s check; without one, the export (f16, checked) is made first. It
listens on 127.0.0.1 unless --host says otherwise: the API has no authentication.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from knowtune.deploy import gguf
from knowtune.deploy.export import ExportConfig, run_export
from knowtune.deploy.source import resolve_source
from knowtune.errors import UserError


class ServeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="A GGUF file, or a run/model directory (served through its checked GGUF export).")
    host: str = Field("127.0.0.1", description="Address to listen on; anything but loopback exposes an API without authentication.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port to listen on.")
    model_alias: str | None = Field(None, description="The model name clients send (default: the run's or file's name).")
    n_ctx: int = Field(2048, ge=128, description="Context length in tokens (prompt and reply together).")


def checked_gguf(path: str) -> Path:
    """The GGUF to serve: the file given, or a run's export that passed its check (made now if there is none)."""
    given = Path(path).expanduser()
    if given.suffix == ".gguf":
        if not given.is_file():
            raise UserError(f"{given}: no such GGUF file")
        return given
    source = resolve_source(path)
    for folder in sorted(((source.run_dir or source.model_dir) / "export").glob("gguf-*")):
        report = folder / "verify.json"
        files = sorted(folder.glob("*.gguf"))
        if files and report.is_file() and json.loads(report.read_text(encoding="utf-8")).get("passed"):
            return files[0]
    print(f"{source.model_dir} has no checked GGUF export yet; exporting it (gguf, f16) first", flush=True)
    return next(run_export(ExportConfig(path=path, format="gguf")).glob("*.gguf"))


def check_address(host: str, port: int) -> None:
    """One line for a port in use or an address this machine does not have, before any model loads."""
    try:
        loopback = ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        raise UserError(f"--host {host}: not an address of this machine") from None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as e:
            raise UserError(f"cannot listen on {host}:{port}: {e.strerror} (is another server on that port? "
                            "give another --port)") from None
    if not loopback:
        print(f"warning: listening on {host}, reachable from other machines; the API has no authentication")


def run_serve(cfg: ServeConfig) -> None:
    check_address(cfg.host, cfg.port)
    gguf.require_llama_cpp()
    try:
        import uvicorn
        from llama_cpp.server.app import create_app
        from llama_cpp.server.settings import ModelSettings, ServerSettings
    except ImportError:
        raise UserError("llama-cpp-python's server is not installed; install it with: pip install 'knowtune[deploy]'") from None
    model_file = checked_gguf(cfg.path)
    alias = cfg.model_alias or model_file.stem
    app = create_app(
        server_settings=ServerSettings(host=cfg.host, port=cfg.port),
        model_settings=[ModelSettings(model=str(model_file), model_alias=alias, n_ctx=cfg.n_ctx, verbose=False)],
    )
    print(f"Serving {model_file} as model '{alias}' at http://{cfg.host}:{cfg.port}/v1 (Ctrl-C stops)", flush=True)
    # uvicorn ends on SIGINT and SIGTERM by finishing open requests and closing the socket.
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning")
    print("Server stopped", flush=True)
