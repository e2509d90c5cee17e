"""The real CLI, in its own process, from the repository root."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KNOWTUNE = [sys.executable, "-m", "knowtune"]


def knowtune(*args, env=None, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run([*KNOWTUNE, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
