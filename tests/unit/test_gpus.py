"""GPU choice for sweeps (seed 000: by id, by type, auto), on simulated machines."""

import pytest

from knowtune.errors import UserError
from knowtune.train.gpus import choose_gpus

MACHINE = ["NVIDIA A800-SXM4-80GB", "NVIDIA A40", "NVIDIA A800-SXM4-80GB", "NVIDIA GeForce RTX 4090"]


def test_by_type_is_a_case_insensitive_substring_and_auto_is_all():
    assert choose_gpus(MACHINE, gpu_type="a800", visible="") == ["0", "2"]
    assert choose_gpus(MACHINE, gpu_type="4090", visible="") == ["3"]
    assert choose_gpus(MACHINE, gpu_type="auto", visible="") == ["0", "1", "2", "3"]
    assert choose_gpus(MACHINE, visible="") == ["0", "1", "2", "3"]


def test_by_id_keeps_the_order_and_drops_repeats():
    assert choose_gpus(MACHINE, gpu_ids=[2, 0, 2], visible="") == ["2", "0"]


def test_indices_map_through_an_existing_cuda_visible_devices():
    # torch numbers the visible GPUs 0..n-1; a trial must be pinned to the real device behind each number
    assert choose_gpus(MACHINE[:2], gpu_ids=[1], visible="5,7") == ["7"]
    assert choose_gpus(MACHINE[:2], gpu_type="A40", visible="5,7") == ["7"]


def test_no_gpu_means_the_cpu():
    assert choose_gpus([], visible="") == []
    assert choose_gpus([], gpu_type="auto", visible="") == []


def test_mistakes_name_the_devices():
    with pytest.raises(UserError, match=r"gpu_type='H100' matches none of this machine's GPUs \(0: NVIDIA A800-SXM4-80GB, 1: NVIDIA A40"):
        choose_gpus(MACHINE, gpu_type="H100", visible="")
    with pytest.raises(UserError, match="gpu_ids: GPU 4 does not exist"):
        choose_gpus(MACHINE, gpu_ids=[0, 4], visible="")
    with pytest.raises(UserError, match=r"matches none of this machine's GPUs \(none\)"):
        choose_gpus([], gpu_type="A800", visible="")
