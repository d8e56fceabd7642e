"""What metrics cost a request: run.py's cases (a cache-hit acquire_token_silent, a forced refresh) through three
RedisTokenCaches on one Redis, in one process: metrics off (metrics=False), the default (None: off too), and
metrics={"on_event": ...} with a callback that only appends to a list (the package's own cost, not an exporter's).
Sides shuffled on every iteration (compare_versions.py's measure); medians and ratios to "off".

    npm run build:python && /usr/bin/python3 bench/python/metrics_cost.py [--iterations N]
"""

from __future__ import annotations

import argparse
import base64
import os
from typing import Any, Dict, List

from compare_versions import measure
from run import RedisTokenCache, ours_case, redis, seeded_cache, start_redis


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=1500)
    args = parser.parse_args()
    process, port, directory = start_redis()
    try:
        client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
        secrets = dict(encryption_keys=[base64.b64encode(os.urandom(32)).decode()],
                       key_name_secret=base64.b64encode(os.urandom(32)).decode())
        events: List[Dict[str, Any]] = []

        def on_event(event: Dict[str, Any]) -> None:
            events.append(event)
            if len(events) > 10000:
                events.clear()
        sides = {"off": RedisTokenCache(redis=client, prefix="off:", metrics=False, **secrets),
                 "default": RedisTokenCache(redis=client, prefix="default:", **secrets),
                 "on_event": RedisTokenCache(redis=client, prefix="on:", metrics={"on_event": on_event}, **secrets)}
        print(f"{args.iterations} iterations (refreshes: half), shuffled order; medians in microseconds")
        for size in (8 * 1024, 100 * 1024):
            seed = seeded_cache(size)
            for kind, refresh in (("hit", False), ("refresh", True)):
                session = f"{kind}-{size}"
                cases = {}
                for name, tokens in sides.items():
                    tokens.import_partition(seed, session_id=session)
                    cases[name] = ours_case(tokens, session, refresh)
                m = measure(cases, args.iterations if kind == "hit" else args.iterations // 2)
                print(f"{kind:8} {size // 1024:4} KB  off {m['off']:7.0f}  default {m['default']:7.0f} "
                      f"({m['default'] / m['off']:.2f}x)  on_event {m['on_event']:7.0f} "
                      f"({m['on_event'] / m['off']:.2f}x)")
        for tokens in sides.values():
            tokens.close()
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
