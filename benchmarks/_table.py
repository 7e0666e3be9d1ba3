"""The benchmarks' shared table printer (benchmarks run as scripts: ``from _table import print_table``)."""

from __future__ import annotations


def print_table(header, rows) -> None:
    """Print ``rows`` (sequences of cells) under ``header`` as a ' | '-separated, left-aligned table."""
    w = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(" | ".join(str(h).ljust(w[i]) for i, h in enumerate(header)))
    print("-+-".join("-" * x for x in w))
    for r in rows:
        print(" | ".join(str(v).ljust(w[i]) for i, v in enumerate(r)))
