"""A Python server of the mixed-language tests, in its own process: the protocol of node_worker.js (one JSON line each
way, {id, op, args} -> {id, ok, result | error, warnings}) over a PythonServer. Environment: the same as
node_worker.js's, and WORKER_SCOPED=1 for a server whose requests use `with tokens.cache_for(...) as cache:`."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any, Callable, Dict, List

import redis

from msal_redis_cache import RedisTokenCache
from support.python_server import PythonServer


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def main() -> None:
    handler = Collect()
    logger = logging.getLogger("msal_redis_cache.worker")
    logger.addHandler(handler)
    logger.propagate = False
    client = redis.Redis.from_url(os.environ["WORKER_REDIS_URL"], socket_timeout=1, socket_connect_timeout=1)
    tokens = RedisTokenCache(redis=client, prefix=os.environ["WORKER_PREFIX"], logger=logger,
                             encryption_keys=[os.environ["TEST_ENCRYPTION_KEY"]],
                             key_name_secret=os.environ["TEST_KEY_NAME_SECRET"])
    server = PythonServer(tokens, json.loads(os.environ["WORKER_MSAL_AUTH"]), os.environ["WORKER_IDP_URL"],
                          scoped=os.environ.get("WORKER_SCOPED") == "1")
    operations: Dict[str, Callable[[Dict[str, Any]], Any]] = {
        "signIn": lambda a: server.sign_in(a["selector"], a["code"], a["scopes"], a["redirectUri"]),
        "silent": lambda a: server.silent(a["selector"], a["homeAccountId"], a["scopes"], a.get("forceRefresh", False)),
        "appToken": lambda a: server.app_token(a["tenantId"], a["scopes"]),
        "onBehalfOf": lambda a: server.on_behalf_of(a["assertion"], a["scopes"]),
        "removeAccount": lambda a: server.remove_account(a["selector"], a["homeAccountId"]),
        "remove": lambda a: server.remove(a["selector"]),
        "export": lambda a: server.export(a["selector"]),
    }
    client.ping()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        handler.messages = []
        try:
            reply = {"ok": True, "result": operations[request["op"]](request["args"])}
        except Exception as error:  # reported to the test, which decides
            reply = {"ok": False, "error": {"name": type(error).__name__, "message": str(error)}}
        print(json.dumps({"id": request["id"], **reply, "warnings": handler.messages}), flush=True)
    tokens.close()


if __name__ == "__main__":
    main()
