"""What metrics cost a request: run.py's cases (a cache-hit acquire_token_silent, a forced refresh) through three
RedisTokenCaches on one Redis, in one process: metrics off (metrics=False), the default (None: off too), and
metrics={"on_event": ...} with a callback that only appends to a list (the package's own cost, not an exporter's).
Sides shuffled on every iteration (compare_versions.py's measure); medians and ratios to "off".

    npm run build:python && /usr/bin/python3 bench/python/metrics_cost.py [--iterations N]
"""

from __future__ import annotations

import argparse
from typing import Any, Dict, List

from compare_versions import measure
from run import RedisTokenCache, bench_redis, ours_case, partition_cases, random_secrets, seeded_sides


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=1500)
    args = parser.parse_args()
    with bench_redis() as client:
        secrets = random_secrets()
        events: List[Dict[str, Any]] = []

        def on_event(event: Dict[str, Any]) -> None:
            events.append(event)
            if len(events) > 10000:
                events.clear()
        sides = {"off": RedisTokenCache(redis=client, prefix="off:", metrics=False, **secrets),
                 "default": RedisTokenCache(redis=client, prefix="default:", **secrets),
                 "on_event": RedisTokenCache(redis=client, prefix="on:", metrics={"on_event": on_event}, **secrets)}
        print(f"{args.iterations} iterations (refreshes: half), shuffled order; medians in microseconds")
        for kind, size, refresh, session, seed in partition_cases():
            cases = seeded_sides(sides, seed, session, lambda tokens: ours_case(tokens, session, refresh))
            m = measure(cases, args.iterations if kind == "hit" else args.iterations // 2)
            print(f"{kind:8} {size // 1024:4} KB  off {m['off']:7.0f}  default {m['default']:7.0f} "
                  f"({m['default'] / m['off']:.2f}x)  on_event {m['on_event']:7.0f} "
                  f"({m['on_event'] / m['off']:.2f}x)")
        for tokens in sides.values():
            tokens.close()


if __name__ == "__main__":
    main()
