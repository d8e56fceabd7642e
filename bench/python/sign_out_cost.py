"""What sign_out_replicas costs a Python sign-out (python/README.md, "Sign-outs and failovers"), as
bench/sign-out-cases.js measures Node's: remove_partition of a signed-in session (its partition imported first,
untimed), side by side in shuffled order, medians and ratios:
  - one: on a master with one replica of its own: "auto" (WAIT for the replica) against False;
  - nowait: on a standalone redis-server (no replica): "auto" against False, the cost of "auto" itself (an INFO
    replication every 5 s).

    npm run build:python && /usr/bin/python3 bench/python/sign_out_cost.py [--iterations N]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import time
from typing import Dict, List

from run import RedisTokenCache, random_secrets, redis, seeded_cache, start_redis


def start_replica(master_port: int) -> "tuple[subprocess.Popen, int, str]":
    process, port, directory = start_redis()
    client = redis.Redis(port=port)
    client.replicaof("127.0.0.1", master_port)
    for _ in range(400):
        if client.info("replication").get("master_link_status") == "up":
            return process, port, directory
        time.sleep(0.025)
    raise RuntimeError("the replica did not sync")


def sign_outs(sides: Dict[str, RedisTokenCache], seed: str, iterations: int) -> Dict[str, "tuple[float, float]"]:
    """Median and p90 microseconds of remove_partition per side, each on a session signed in just before."""
    samples: Dict[str, List[float]] = {name: [] for name in sides}
    names = list(sides)
    for i in range(iterations + iterations // 10):
        random.shuffle(names)
        for name in names:
            session = f"{name}-{i}"
            sides[name].import_partition(seed, session_id=session)
            started = time.perf_counter_ns()
            sides[name].remove_partition(session_id=session)
            if i >= iterations // 10:  # the first tenth warms up
                samples[name].append((time.perf_counter_ns() - started) / 1000)
    return {name: (statistics.median(values), statistics.quantiles(values, n=10)[-1])
            for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    secrets = random_secrets()
    seed = seeded_cache(8 * 1024)
    master, master_port, master_dir = start_redis()
    replica, _, replica_dir = start_replica(master_port)
    standalone, standalone_port, standalone_dir = start_redis()
    try:
        print(f"{args.iterations} sign-outs per side, shuffled order; median (p90) microseconds")
        for case, port in (("one", master_port), ("nowait", standalone_port)):
            client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
            sides = {"auto": RedisTokenCache(redis=client, prefix=f"{case}-auto:", **secrets),
                     "false": RedisTokenCache(redis=client, prefix=f"{case}-false:", sign_out_replicas=False,
                                              **secrets)}
            m = sign_outs(sides, seed, args.iterations)
            print(f"{case:7} auto {m['auto'][0]:6.0f} ({m['auto'][1]:6.0f})  false {m['false'][0]:6.0f} "
                  f"({m['false'][1]:6.0f})  ratio {m['auto'][0] / m['false'][0]:.2f}x")
            for tokens in sides.values():
                tokens.close()
            client.close()
    finally:
        for process, directory in ((replica, replica_dir), (master, master_dir), (standalone, standalone_dir)):
            process.terminate()
            process.wait(10)
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
