"""The commands of knowtune.experiments: run, compare, converge, budget, status, sweep, pipeline."""

from __future__ import annotations

import argparse

from knowtune.experiments.budget import add_budget_parser
from knowtune.experiments.compare import add_compare_parser
from knowtune.experiments.converge import add_converge_parser
from knowtune.experiments.job_cli import add_run_parser
from knowtune.experiments.pipeline import add_pipeline_parser
from knowtune.experiments.status import add_status_parser
from knowtune.experiments.sweep import add_sweep_parser


def add_experiments_parsers(sub: argparse._SubParsersAction) -> None:
    add_run_parser(sub)
    add_compare_parser(sub)
    add_converge_parser(sub)
    add_budget_parser(sub)
    add_status_parser(sub)
    add_sweep_parser(sub)
    add_pipeline_parser(sub)
