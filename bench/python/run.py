"""A cache-hit acquire_token_silent, and a forced refresh, through msal_redis_cache vs the design documents' snippet
(msal's SerializableTokenCache with redis.get + deserialize before, setex of serialize() after), at 8 KB and 100 KB
partitions, interleaved, on a throw-away redis-server. Each iteration is one web request: a new cache, a new
ConfidentialClientApplication, get_accounts, acquire_token_silent. "ours" is the documented form, `with
tokens.cache_for(...) as cache:` (one write when the block ends); "no with" passes cache_for(...) straight to msal,
which writes each change at once (msal-python 1.21 makes two per refresh); "no L1" is the documented form with
local_cache=False (every request reads Redis). Prints medians and ratios to the snippet.
The partition count update that follows each of our writes (sent in the background, never awaited) is settled
after each call, outside its wall time (so that it never lands in the next case's), inside its CPU time: "cpu" is
this process's CPU time (all threads: the background count update included; Redis's own time is not), which moves
less than wall time with the machine's load.

    npm run build:python && /usr/bin/python3 bench/python/run.py [--iterations N]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import msal  # noqa: E402
import redis  # noqa: E402

from fake_idp import AUTHORITY, CLIENT_ID, FakeIdentityProvider  # noqa: E402
from msal_redis_cache import RedisTokenCache  # noqa: E402

SCOPES = ["https://graph.microsoft.com/User.Read"]
TTL = 86400
IDP = FakeIdentityProvider()


def start_redis() -> "tuple[subprocess.Popen, int, str]":
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tempfile.mkdtemp(prefix="mrc-bench-redis-")
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", directory], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return process, port, directory
        except redis.exceptions.ConnectionError:
            time.sleep(0.025)
    raise RuntimeError("redis-server did not start")


@contextlib.contextmanager
def bench_redis() -> Iterator[redis.Redis]:
    """A redis-server of the bench's own, and a client of it (1 s timeouts); stopped and removed afterwards."""
    process, port, directory = start_redis()
    try:
        yield redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


def app_for(cache: msal.SerializableTokenCache) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(CLIENT_ID, client_credential="secret", authority=AUTHORITY,
                                              http_client=IDP, token_cache=cache)


def random_secrets() -> Dict[str, object]:
    """A fresh encryption key and key-name secret: every bench run its own."""
    return {"encryption_keys": [base64.b64encode(os.urandom(32)).decode()],
            "key_name_secret": base64.b64encode(os.urandom(32)).decode()}


def partition_cases() -> Iterator[Tuple[str, int, bool, str, str]]:
    """The cases every Python bench measures, as (kind, size, refresh, session id, seeded cache JSON): a cache hit
    and a refresh, of an 8 KB and a 100 KB session partition."""
    for size in (8 * 1024, 100 * 1024):
        seed = seeded_cache(size)
        for kind, refresh in (("hit", False), ("refresh", True)):
            yield kind, size, refresh, f"{kind}-{size}", seed


def seeded_sides(sides: Dict[str, RedisTokenCache], seed: str, session: str,
                 case: Callable[[RedisTokenCache], Callable[[], None]]) -> Dict[str, Callable[[], None]]:
    """Each side's `case` on `session`, its partition seeded with `seed` first."""
    cases = {}
    for name, tokens in sides.items():
        tokens.import_partition(seed, session_id=session)
        cases[name] = case(tokens)
    return cases


def seeded_cache(size: int) -> str:
    """A signed-in cache, padded with access tokens for other resources up to about `size` bytes."""
    cache = msal.SerializableTokenCache()
    app_for(cache).acquire_token_by_refresh_token("seed", SCOPES)
    [template] = cache.find(msal.TokenCache.CredentialType.ACCESS_TOKEN)
    n = 0
    while len(cache.serialize().replace("    ", "").replace("\n", "")) < size:
        entry = dict(template, target=f"api://resource-{n}/read",
                     secret=base64.urlsafe_b64encode(os.urandom(600)).decode())
        cache.modify(msal.TokenCache.CredentialType.ACCESS_TOKEN, entry, entry)  # under msal-python's key
        n += 1
    return json.dumps(json.loads(cache.serialize()), separators=(",", ":"))


def silent(app: msal.ConfidentialClientApplication, force_refresh: bool) -> None:
    [account] = app.get_accounts()
    result = app.acquire_token_silent(SCOPES, account, force_refresh=force_refresh)
    assert result and "access_token" in result


def ours_case(tokens: RedisTokenCache, session: str, force_refresh: bool) -> Callable[[], None]:
    def run() -> None:
        with tokens.cache_for(session_id=session) as cache:
            silent(app_for(cache), force_refresh)
    return run


def unscoped_case(tokens: RedisTokenCache, session: str, force_refresh: bool) -> Callable[[], None]:
    def run() -> None:
        silent(app_for(tokens.cache_for(session_id=session)), force_refresh)
    return run


def snippet_case(client: redis.Redis, key: str, force_refresh: bool) -> Callable[[], None]:
    def run() -> None:
        cache = msal.SerializableTokenCache()
        blob = client.get(key)
        if blob:
            cache.deserialize(blob)
        silent(app_for(cache), force_refresh)
        if cache.has_state_changed:
            client.setex(key, TTL, cache.serialize())
    return run


def measure(cases: Dict[str, Callable[[], None]], iterations: int,
            settle: Callable[[], None]) -> "tuple[Dict[str, float], Dict[str, float]]":
    """Medians of wall time and of CPU time, in microseconds, per case."""
    wall: Dict[str, List[float]] = {name: [] for name in cases}
    cpu: Dict[str, List[float]] = {name: [] for name in cases}
    for _ in range(max(10, iterations // 10)):  # warm-up
        for run in cases.values():
            run()
            settle()
    for _ in range(iterations):
        for name, run in cases.items():  # interleaved
            cpu_started, started = time.process_time_ns(), time.perf_counter_ns()
            run()
            wall[name].append((time.perf_counter_ns() - started) / 1000)
            settle()
            cpu[name].append((time.process_time_ns() - cpu_started) / 1000)
    return ({name: statistics.median(values) for name, values in wall.items()},
            {name: statistics.median(values) for name, values in cpu.items()})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    with bench_redis() as client:
        secrets = {**random_secrets(), "prefix": "bench:"}
        tokens = RedisTokenCache(redis=client, **secrets)
        no_l1 = RedisTokenCache(redis=client, local_cache=False, **secrets)

        def settle() -> None:  # the background count updates only: close() would also stop the in-process cache
            for cache in (tokens, no_l1):
                cache._shared.index.settle()  # noqa: SLF001
        print(f"msal {msal.__version__}, redis-py {redis.__version__}, Python {sys.version.split()[0]}, "
              f"{args.iterations} interleaved iterations; medians in microseconds")
        for kind, size, refresh, session, seed in partition_cases():
            tokens.import_partition(seed, session_id=session)
            client.setex(f"snippet:{session}", TTL, seed)
            medians, cpu = measure({"ours": ours_case(tokens, session, refresh),
                                    "no with": unscoped_case(tokens, session, refresh),
                                    "no L1": ours_case(no_l1, session, refresh),
                                    "snippet": snippet_case(client, f"snippet:{session}", refresh)},
                                   args.iterations if kind == "hit" else args.iterations // 4, settle)
            for label, values in (("wall", medians), ("cpu", cpu)):
                snippet = values["snippet"]
                print(f"{kind:8} {size // 1024:4} KB {label:4}  ours {values['ours']:7.0f} "
                      f"({values['ours'] / snippet:.2f}x)  no with {values['no with']:7.0f} "
                      f"({values['no with'] / snippet:.2f}x)  no L1 {values['no L1']:7.0f} "
                      f"({values['no L1'] / snippet:.2f}x)  snippet {snippet:7.0f}")
        tokens.close()
        no_l1.close()


if __name__ == "__main__":
    main()
