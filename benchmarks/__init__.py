"""LossViz speed harness: the reference-style loop and LossViz, timed side by side.

Run ``python -m benchmarks --suite smoke|cpu|gpu``; figures go to ``benchmarks/results/``
and are summarized in ``benchmarks/RESULTS.md``. Speed is never asserted by tests.
"""
