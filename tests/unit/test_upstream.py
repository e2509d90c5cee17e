"""The private names of TRL and transformers that knowtune uses (knowtune.upstream) are all there."""

import importlib.metadata

import pytest

from knowtune import upstream
from knowtune.errors import UserError


def test_every_private_name_knowtune_uses_is_there():
    missing = upstream.problems(speedups=True)
    assert not missing, (
        f"{upstream.installed()} lacks {missing}: adapt knowtune/upstream.py to this release "
        f"(tested: {upstream.TESTED}) or pin the tested versions"
    )


def test_the_installed_versions_are_the_tested_ones():
    for name, minor in upstream.TESTED.items():
        installed = importlib.metadata.version(name)
        assert installed.startswith(minor + "."), f"{name} {installed} is installed, knowtune is tested with {minor}.x"


def test_a_missing_name_stops_setup_in_one_line_naming_the_versions(monkeypatch):
    from trl.kernels import chunked_logprob

    monkeypatch.delattr(chunked_logprob, "_use_triton")
    upstream.check.cache_clear()
    try:
        with pytest.raises(UserError) as e:
            upstream.check()
    finally:
        upstream.check.cache_clear()
    message = str(e.value)
    assert "\n" not in message
    assert "trl.kernels.chunked_logprob._use_triton" in message
    assert f"trl {importlib.metadata.version('trl')}" in message and "pip install 'trl==1.16.*'" in message
