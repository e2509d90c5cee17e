"""Which GPUs a run or a sweep's trial may use (seed 000: by id, by type such as A800 or A40, or `auto` = all).

The choice is a pure function of the device names, so it is tested with simulated machines;
`local_devices()` reads the real ones from torch.
"""

from __future__ import annotations

import os

from knowtune.errors import UserError


def local_devices() -> list[str]:
    """The names of this machine's CUDA GPUs, indexed as torch numbers them (empty without CUDA)."""
    import torch

    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def choose_gpus(names: list[str], gpu_ids: list[int] | None = None, gpu_type: str | None = None,
                visible: str | None = None) -> list[str]:
    """CUDA_VISIBLE_DEVICES entries, one per GPU a trial may be pinned to; [] = run on the CPU.

    `names` are the devices as torch numbers them; `visible` is the CUDA_VISIBLE_DEVICES already set
    (default: this process's), which maps those numbers to the real devices.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES") if visible is None else visible
    real = visible.split(",")[: len(names)] if visible else [str(i) for i in range(len(names))]
    listed = ", ".join(f"{i}: {name}" for i, name in enumerate(names)) or "none"
    if gpu_ids is not None:
        missing = [i for i in gpu_ids if not 0 <= i < len(names)]
        if missing:
            count = f"{len(names)}: 0-{len(names) - 1}" if names else "none"
            raise UserError(f"gpu_ids: GPU {missing[0]} does not exist (this machine has {count})")
        chosen = list(dict.fromkeys(gpu_ids))
    elif gpu_type is None or gpu_type.lower() == "auto":
        chosen = list(range(len(names)))
    else:
        chosen = [i for i, name in enumerate(names) if gpu_type.lower() in name.lower()]
        if not chosen:
            raise UserError(f"gpu_type={gpu_type!r} matches none of this machine's GPUs ({listed})")
    return [real[i] for i in chosen]
