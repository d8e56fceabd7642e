"""This checkout's msal_redis_cache against another checkout's (built with `npm run build:python` there), in one process,
on one Redis, with run.py's unscoped cases (each change written at once, the form every version has) and the snippet
beside them: medians and ratios per case. The order of the sides is shuffled on every iteration: with a fixed order,
whichever side ran second measured up to 30% slower on this machine.

    /usr/bin/python3 bench/python/compare_versions.py <other checkout> [--iterations N]
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

from run import TTL, bench_redis, partition_cases, random_secrets, seeded_sides, snippet_case, unscoped_case
from msal_redis_cache import RedisTokenCache


def load_other(checkout: Path):
    """The other checkout's package, imported under another name (its own _core extension and Lua files)."""
    root = checkout / "python" / "msal_redis_cache"
    spec = importlib.util.spec_from_file_location("msal_redis_cache_other", root / "__init__.py",
                                                  submodule_search_locations=[str(root)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.RedisTokenCache


def measure(cases: Dict[str, Callable[[], None]], iterations: int) -> Dict[str, float]:
    samples: Dict[str, List[float]] = {name: [] for name in cases}
    names = list(cases)
    for _ in range(max(10, iterations // 10)):  # warm-up
        for run in cases.values():
            run()
    for _ in range(iterations):
        random.shuffle(names)
        for name in names:
            started = time.perf_counter_ns()
            cases[name]()
            samples[name].append((time.perf_counter_ns() - started) / 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("other", type=Path)
    parser.add_argument("--iterations", type=int, default=1500)
    args = parser.parse_args()
    Other = load_other(args.other.resolve())
    with bench_redis() as client:
        secrets = random_secrets()
        sides = {"this": RedisTokenCache(redis=client, prefix="this:", **secrets),
                 "other": Other(redis=client, prefix="other:", **secrets)}
        print(f"{args.iterations} iterations (refreshes: half), shuffled order; medians in microseconds")
        for kind, size, refresh, session, seed in partition_cases():
            # cache_for(...) passed straight to msal, each change written at once: the form every version has
            cases = seeded_sides(sides, seed, session, lambda tokens: unscoped_case(tokens, session, refresh))
            client.setex(f"snippet:{session}", TTL, seed)
            cases["snippet"] = snippet_case(client, f"snippet:{session}", refresh)
            m = measure(cases, args.iterations if kind == "hit" else args.iterations // 2)
            print(f"{kind:8} {size // 1024:4} KB  this {m['this']:7.0f} ({m['this'] / m['snippet']:.2f}x)  "
                  f"other {m['other']:7.0f} ({m['other'] / m['snippet']:.2f}x)  snippet {m['snippet']:7.0f}  "
                  f"this/other {m['this'] / m['other']:.2f}")
        for tokens in sides.values():
            tokens.close()


if __name__ == "__main__":
    main()
