"""Entry points no notebook imports: the cold run (``python -m anatomy_utils.tools.cold``), the benchmark, the one-call
pruner and the student track."""
