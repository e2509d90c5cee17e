"""Decoder layers chosen in a config: `no_rope_layers`, `freeze.trainable_layers`."""

from __future__ import annotations

import re

from knowtune.errors import UserError


def layer_indices(spec: list[int | str], n_layers: int, key: str) -> set[int]:
    """Layer indices from `spec`: indices or ranges ('20-23'); negative ones count from the end."""
    chosen = set()
    for item in spec:
        text = str(item).strip()
        m = re.fullmatch(r"(-?\d+)\s*-\s*(-?\d+)", text)
        try:
            lo, hi = (int(m.group(1)), int(m.group(2))) if m else (int(text), int(text))
        except ValueError:
            raise UserError(f"{key}: '{item}' is not a layer index or range like '20-23'") from None
        for i in range(lo, hi + 1):
            j = i + n_layers if i < 0 else i
            if not 0 <= j < n_layers:
                raise UserError(f"{key}: layer {i} does not exist (the model has {n_layers}: 0-{n_layers - 1})")
            chosen.add(j)
    return chosen
