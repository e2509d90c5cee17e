"""`knowtune converge`: the criterion on constructed loss series, and the CLI over a folder of files."""

import numpy as np
import pytest

from knowtune.cli import build_parser, main
from knowtune.experiments.converge import check_losses


def settling(n=50, noise=0.0):
    """A loss that decays to 1.0 (successive differences shrink geometrically), plus alternating noise."""
    steps = np.arange(n)
    return 1.0 + 2.0 * 0.8 ** steps + noise * (-1.0) ** steps


def test_decaying_loss_passes_and_early_cut_fails():
    assert check_losses(settling(50), threshold=1e-3, window=10)[0]
    passed, largest, reason = check_losses(settling(20), threshold=1e-3, window=10)
    # the last 10 values of 20: the largest difference is between steps 10 and 11 = 2*0.8**10*0.2
    assert not passed and largest == pytest.approx(2 * 0.8 ** 10 * 0.2) and "not below 0.001" in reason


def test_threshold_is_strict_and_window_counts_values():
    values = np.array([5.0, 1.0, 1.5, 2.0, 2.5])  # differences 4, 0.5, 0.5, 0.5
    assert not check_losses(values, threshold=0.5, window=4)[0]  # 0.5 is not below 0.5
    assert check_losses(values, threshold=0.51, window=4)[0]  # the last 4 values: 3 differences of 0.5
    assert not check_losses(values, threshold=0.51, window=5)[0]  # 5 values include the drop of 4


def test_smoothing_removes_oscillation():
    noisy = settling(60, noise=0.01)
    assert not check_losses(noisy, threshold=1e-3, window=10)[0]
    # a moving average over 2 values cancels the alternating +-0.01 exactly
    assert check_losses(noisy, threshold=1e-3, window=10, smooth=2)[0]


def test_bad_series_fail_with_reason():
    assert "too short" in check_losses(np.ones(5), 1e-3, 10)[2]
    assert "too short: 3 values after smoothing" in check_losses(np.ones(5), 1e-3, 4, smooth=3)[2]
    assert "NaN" in check_losses(np.array([1.0, np.nan, 1.0]), 1e-3, 2)[2]
    assert "not a 1-D array (shape (3, 4))" in check_losses(np.ones((3, 4)), 1e-3, 2)[2]


def test_cli_folder_table_names_bad_files_and_exit_code(tmp_path, capsys):
    folder = tmp_path / "losses"
    folder.mkdir()
    np.save(folder / "good.npy", settling(50).astype(np.float32))
    np.save(folder / "rising.npy", np.linspace(1, 2, 50))
    np.save(folder / "matrix.npy", np.ones((4, 4)))
    np.save(folder / "objects.npy", np.array([{"loss": 1.0}], dtype=object))  # needs pickle: refused
    (folder / "text.npy").write_text("not numpy")
    run = folder / "run-a"
    run.mkdir()
    np.save(run / "losses.npy", settling(40))
    (folder / "notes.txt").write_text("ignored")
    assert main(["converge", "--folder", str(folder), "--threshold", "0.001"]) == 1
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert set(lines) == {str(folder / n) for n in ("good.npy", "matrix.npy", "objects.npy", "rising.npy", "run-a",
                                                     "text.npy")}
    assert lines[str(folder / "good.npy")].endswith("pass") and lines[str(folder / "run-a")].endswith("pass")
    assert "FAIL: not a 1-D array" in lines[str(folder / "matrix.npy")]
    assert "FAIL: cannot read" in lines[str(folder / "objects.npy")]
    assert "FAIL: cannot read" in lines[str(folder / "text.npy")]
    assert "FAIL: a successive difference" in lines[str(folder / "rising.npy")]
    assert out.splitlines()[-1].startswith("2/6 converged")
    assert main(["converge", str(folder / "good.npy"), str(run), "--window", "5"]) == 0


def test_cli_errors_and_documented_criterion(tmp_path, fails_with):
    fails_with(["converge", "--folder", str(tmp_path / "nope")], "nope: not a directory")
    fails_with(["converge", "--folder", str(tmp_path)], "holds no .npy file or run directory")
    fails_with(["converge", str(tmp_path), "--window", "1"], "--window 1")
    help_text = build_parser()._subparsers._group_actions[0].choices["converge"].format_help()
    assert "|x[i+1] - x[i]| < threshold" in " ".join(help_text.split())
