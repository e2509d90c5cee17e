"""`knowtune converge`: did the saved losses settle? A Cauchy-style test over `.npy` loss files.

The criterion: optionally smooth the losses with a moving average of `smooth` values (the mean of
each `smooth` consecutive values, so the series gets `smooth - 1` shorter); then the run converged
when its last `window` values have every absolute difference between successive values below
`threshold`: |x[i+1] - x[i]| < threshold for the last window - 1 pairs. A series shorter than
`window` (after smoothing), one with NaN or inf, or a file that is not a 1-D numeric array fails.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowtune.errors import UserError

CRITERION = (
    "Converged when, after an optional moving average over --smooth values, the last --window values have "
    "every absolute difference between successive values below --threshold: |x[i+1] - x[i]| < threshold for "
    "the last window - 1 pairs. Too few values, NaN/inf, or a file that is not a 1-D numeric array: failed."
)


@dataclass
class Verdict:
    path: Path
    passed: bool
    values: int = 0
    max_difference: float | None = None  # the largest |x[i+1] - x[i]| within the window
    reason: str = ""


def smooth_losses(values: np.ndarray, smooth: int) -> np.ndarray:
    if smooth <= 1:
        return values
    return np.convolve(values, np.ones(smooth) / smooth, mode="valid")


def check_losses(values: np.ndarray, threshold: float, window: int, smooth: int = 1) -> tuple[bool, float | None, str]:
    """(passed, largest successive difference in the window, why it failed)."""
    if values.ndim != 1:
        return False, None, f"not a 1-D array (shape {values.shape})"
    if not np.issubdtype(values.dtype, np.number):
        return False, None, f"not numeric (dtype {values.dtype})"
    if not np.all(np.isfinite(values)):
        return False, None, "contains NaN or inf"
    series = smooth_losses(values.astype(np.float64), smooth)
    if len(series) < window:
        return False, None, f"too short: {len(series)} values after smoothing, window needs {window}"
    largest = float(np.max(np.abs(np.diff(series[-window:]))))
    if largest < threshold:
        return True, largest, ""
    return False, largest, f"a successive difference of {largest:.3g} is not below {threshold:g}"


def loss_file(path: Path) -> Path:
    """A .npy file as given, or a run directory's losses.npy."""
    return path / "losses.npy" if path.is_dir() else path


def check_file(path: Path, threshold: float, window: int, smooth: int) -> Verdict:
    target = loss_file(path)
    try:
        values = np.load(target, allow_pickle=False)
    except (OSError, ValueError) as e:
        return Verdict(path, False, reason=f"cannot read {target}: {str(e).splitlines()[0]}")
    if not isinstance(values, np.ndarray):  # an .npz archive
        return Verdict(path, False, reason=f"{target} is not a single .npy array")
    passed, largest, reason = check_losses(values, threshold, window, smooth)
    return Verdict(path, passed, int(values.size), largest, reason)


def collect(folder: Path | None, paths: list[Path]) -> list[Path]:
    """The given paths, then the folder's .npy files and run directories (those holding losses.npy), sorted."""
    found = list(paths)
    if folder is not None:
        if not folder.is_dir():
            raise UserError(f"--folder {folder}: not a directory")
        found += sorted(p for p in folder.iterdir() if p.suffix == ".npy" or (p / "losses.npy").is_file())
    if not found:
        raise UserError(f"no loss files: {folder} holds no .npy file or run directory" if folder
                        else "give loss files or run directories, or --folder DIR")
    return found


def add_converge_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "converge", help="check that saved losses converged (.npy files or run directories)",
        description="Check that losses converged. " + CRITERION + " Exit code 0 only if every file passes.",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="FILE|RUN_DIR", help=".npy loss files or run directories")
    parser.add_argument("--folder", type=Path, help="also check every .npy file and run directory in this folder")
    parser.add_argument("--threshold", type=float, default=1e-3, help="largest allowed |x[i+1] - x[i]| (default 0.001)")
    parser.add_argument("--window", type=int, default=10, help="how many final values must be settled (default 10)")
    parser.add_argument("--smooth", type=int, default=1, help="moving-average width before the test (default 1: none)")
    parser.set_defaults(func=cmd_converge)


def cmd_converge(args: argparse.Namespace) -> int:
    if args.window < 2:
        raise UserError(f"--window {args.window}: needs at least 2 values to compare")
    if args.smooth < 1 or args.threshold <= 0:
        raise UserError("--smooth must be at least 1 and --threshold above 0")
    verdicts = [check_file(p, args.threshold, args.window, args.smooth) for p in collect(args.folder, args.paths)]
    width = max(len(str(v.path)) for v in verdicts)
    print(f"{'file':<{width}}  {'values':>6}  {'max |diff|':>10}  result")
    for v in verdicts:
        diff = f"{v.max_difference:.3g}" if v.max_difference is not None else "-"
        print(f"{str(v.path):<{width}}  {v.values:>6}  {diff:>10}  {'pass' if v.passed else 'FAIL: ' + v.reason}")
    passed = sum(v.passed for v in verdicts)
    print(f"{passed}/{len(verdicts)} converged (threshold {args.threshold:g}, window {args.window}, smooth {args.smooth})")
    return 0 if passed == len(verdicts) else 1
