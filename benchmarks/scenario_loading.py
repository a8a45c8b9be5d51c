#!/usr/bin/env python
"""How long a large scenario file takes to validate (``povsim validate`` without the data check).

Writes a scenario of about ``--mb`` megabytes to a temporary directory and times reading it
(:func:`povsim.scenario.load_yaml`: parsing and the safety checks) and loading it
(:func:`povsim.load_scenario`: also merging onto the defaults and validating). Two shapes:

- ``events``: thousands of replayed disaster events, about 12 bytes per YAML value, the
  densest scenario one can write (the worst case for a YAML parser);
- ``text``: a few sections with long descriptions, as a scenario with much commentary is.

It is a benchmark, not a test: it asserts nothing. Timings depend on the machine and its load.

    python benchmarks/scenario_loading.py --mb 5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

from povsim.scenario import load_scenario, load_yaml


def events_file(path: Path, size: int) -> int:
    """A scenario of ``size`` bytes of disaster events; returns the number of events."""
    lines = ["name: many events", "shocks:", "  disasters:", "    events:"]
    written, i = 0, 0
    while written < size:
        block = (f"      - name: event {i}\n        kind: flood\n        year: {2015 + i % 6}\n"
                 f"        month: {1 + i % 12}\n        regions: [qinba]\n"
                 f"        share_of_villages: 0.{i % 9 + 1}\n        destroyed: 0.002\n"
                 "        damaged: 0.03\n")
        lines.append(block.rstrip("\n"))
        written += len(block)
        i += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return i


def text_file(path: Path, size: int) -> int:
    """A scenario of ``size`` bytes, mostly long descriptions of budget sources."""
    n = max(1, size // 100_000)
    body = ["name: long descriptions", "budget:", "  sources:"]
    for i in range(n):
        body += [f"    source_{i}:", "      amount: 1.0e6", "      pathways: [production]",
                 "      description: >-", "        " + "words of commentary " * 5_000]
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=5.0, help="file size in MB (default 5)")
    args = parser.parse_args()
    size = int(args.mb * 1e6)
    print(f"libyaml available: {getattr(yaml, '__with_libyaml__', False)}")
    print(f"{'shape':8} {'MB':>5} {'items':>7} {'read s':>7} {'load s':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for shape, make in (("events", events_file), ("text", text_file)):
            path = Path(tmp) / f"{shape}.yaml"
            items = make(path, size)
            t0 = time.perf_counter()
            load_yaml(path)
            t1 = time.perf_counter()
            load_scenario(path)
            t2 = time.perf_counter()
            mb = path.stat().st_size / 1e6
            print(f"{shape:8} {mb:5.1f} {items:7,} {t1 - t0:7.2f} {t2 - t1:7.2f}")


if __name__ == "__main__":
    main()
