"""The in-process cache on a Sentinel client (redis.sentinel.Sentinel(...).master_for(...)): its tracking connection
goes to the current master, and after a failover (Sentinel kills the demoted master's clients) to the new one, so a
write on the new master is seen at once and hits resume there."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis
from redis.sentinel import Sentinel

from conftest import ENCRYPTION_KEY, KEY_NAME_SECRET, free_port
from msal_redis_cache import RedisTokenCache
from test_bad_values import make_cache
from test_local_cache import l1, tracking, wait_for

NAME = "l1master"


def answers(port, *command):
    try:
        return redis.Redis(port=port, socket_timeout=1).execute_command(*command)
    except redis.exceptions.RedisError:
        return None


def replication(port):
    try:
        return redis.Redis(port=port, socket_timeout=1).info("replication")
    except redis.exceptions.RedisError:
        return {}


@pytest.fixture
def sentinel_group():
    directory = Path(tempfile.mkdtemp(prefix="mrc-pytest-l1-sentinel-"))
    master, replica, sentinel = free_port(), free_port(), free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    conf = directory / "sentinel.conf"
    conf.write_text(f"port {sentinel}\nbind 127.0.0.1\ndir {directory}\nsentinel monitor {NAME} 127.0.0.1 {master} 1\n"
                    f"sentinel down-after-milliseconds {NAME} 2000\nsentinel failover-timeout {NAME} 10000\n")
    processes = []
    for port, extra in ((master, []), (replica, ["--replicaof", "127.0.0.1", str(master)])):
        (directory / str(port)).mkdir()
        processes.append(subprocess.Popen(["redis-server", "--port", str(port), "--dir", str(directory / str(port)),
                                           *common, *extra], stdout=subprocess.DEVNULL))
    processes.append(subprocess.Popen(["redis-server", str(conf), "--sentinel"], stdout=subprocess.DEVNULL))
    try:
        wait_for(lambda: replication(replica).get("master_link_status") == "up", 20)
        wait_for(lambda: answers(sentinel, "SENTINEL", "REPLICAS", NAME), 30)
        yield {"master": master, "replica": replica, "sentinel": sentinel}
    finally:
        for process in processes:
            process.kill()
            process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


def test_sentinel_master_tracking_follows_a_failover(sentinel_group):
    sentinel = Sentinel([("127.0.0.1", sentinel_group["sentinel"])], socket_timeout=1)
    options = {"encryption_keys": [ENCRYPTION_KEY], "key_name_secret": KEY_NAME_SECRET, "prefix": "s:"}
    a = RedisTokenCache(redis=sentinel.master_for(NAME, socket_timeout=1), **options)
    b = RedisTokenCache(redis=sentinel.master_for(NAME, socket_timeout=1), local_cache=False, **options)
    try:
        tracking(a)
        now = time.time()
        b.import_partition(make_cache("oid.tid", now), home_account_id="oid.tid")
        a.cache_for(home_account_id="oid.tid")
        hits = l1(a)["hits"]
        assert a.cache_for(home_account_id="oid.tid").find("Account")
        assert l1(a)["hits"] == hits + 1
        b.remove_partition(home_account_id="oid.tid")
        assert a.cache_for(home_account_id="oid.tid").find("Account") == []

        def failed_over():
            answers(sentinel_group["sentinel"], "SENTINEL", "FAILOVER", NAME)  # retried until a replica is chosen
            return replication(sentinel_group["replica"]).get("role") == "master"
        wait_for(failed_over, 60)
        wait_for(lambda: sentinel.discover_master(NAME)[1] == sentinel_group["replica"], 30)
        # Sentinel reconfigures the old master as a replica, and kills its clients: the listener's too.
        wait_for(lambda: replication(sentinel_group["master"]).get("role") == "slave", 30)
        new_master = redis.Redis(port=sentinel_group["replica"])
        wait_for(lambda: [c for c in new_master.client_list() if "P" in c["flags"]], 30)  # tracking there now

        def written_on_new_master():
            try:
                return b.import_partition(make_cache("oid.tid", now), home_account_id="oid.tid") == "stored"
            except Exception:  # READONLY or a killed connection while the group reconfigures
                return False
        wait_for(written_on_new_master, 30)
        assert a.cache_for(home_account_id="oid.tid").find("Account")  # a write on the new master, seen at once
        wait_for(lambda: l1(a)["coherent"], 30)
        a.cache_for(home_account_id="oid.tid")
        hits = l1(a)["hits"]
        # The demoted master replicates from the new one only after a full sync (repl-diskless-sync-delay: 5 s); until
        # then a sign-out fails closed (sign_out_replicas "auto" waits for the replica the master counts).
        wait_for(lambda: replication(sentinel_group["master"]).get("master_link_status") == "up", 30)
        b.remove_partition(home_account_id="oid.tid")
        assert a.cache_for(home_account_id="oid.tid").find("Account") == []
        b.import_partition(make_cache("oid.tid", now), home_account_id="oid.tid")
        a.cache_for(home_account_id="oid.tid")
        assert a.cache_for(home_account_id="oid.tid").find("Account")
        assert l1(a)["hits"] > hits
    finally:
        a.close()
        b.close()
