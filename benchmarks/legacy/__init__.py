"""The pre-msgspec parser, models and aggregation, frozen for comparison.

``benchmarks/bench_parser.py`` times the msgspec decoder against this copy in
the same run, and a test checks that the new aggregation returns exactly what
this one did. Not used by the integration; do not change it.
"""
