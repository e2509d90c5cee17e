"""The one trained run that several integration tests use."""

from types import SimpleNamespace

import pytest
from run_cli import knowtune


@pytest.fixture(scope="session")
def quickstart(tmp_path_factory) -> SimpleNamespace:
    """`knowtune train examples/quickstart.yaml`, once: the shipped model LoRA-tuned on the demo's invented facts."""
    runs = tmp_path_factory.mktemp("runs")
    result = knowtune("train", "examples/quickstart.yaml", f"base_output_dir={runs}")
    assert result.returncode == 0, result.stderr[-3000:]
    return SimpleNamespace(run_dir=runs / "quickstart", stdout=result.stdout)
