"""Experiments over runs: the end-to-end job, pipelines over datasets, sweeps, comparisons, convergence, budgets."""
