"""Fixtures of the Python suite: a real redis-server on a free loopback port, the dev identity provider (JS, the one
source of token answers) served by a node helper, the test secrets of tests/support/test-secrets.js, and workers:
Node (node_worker.js) and Python (python_worker.py) server processes that share the Redis and the identity provider."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(HERE))

from msal_redis_cache import RedisTokenCache  # noqa: E402
from support.python_server import PythonServer  # noqa: E402

_SECRETS = (ROOT / "tests" / "support" / "test-secrets.js").read_text()
ENCRYPTION_KEY = re.search(r"TEST_ENCRYPTION_KEY = '([^']+)'", _SECRETS).group(1)
KEY_NAME_SECRET = re.search(r"TEST_KEY_NAME_SECRET = '([^']+)'", _SECRETS).group(1)
SCOPES = ["https://graph.microsoft.com/User.Read"]
REDIRECT_URI = "http://localhost:3000/auth/redirect"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A redis-server of its own on a free loopback port, in a throw-away directory (a test may SIGSTOP it)."""

    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="mrc-pytest-redis-")
        self.port = free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.025)
        else:
            self.process.kill()
            raise RuntimeError("redis-server did not start")
        client.close()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    server = RedisServer()
    yield server.url
    server.stop()


class IdentityProvider:
    """The node helper serving the dev identity provider; control(...) drives it."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(["node", str(HERE / "support" / "idp_server.js")], cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        first = json.loads(self.process.stdout.readline())
        self.url: str = first["url"]
        self.control_url: str = first["control"]
        self.auth: Dict[str, Any] = self.control("msalAuth")

    def control(self, operation: str, **args: Any) -> Any:
        request = urllib.request.Request(f"{self.control_url}/control/{operation}", data=json.dumps(args).encode(),
                                         method="POST", headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read())["result"]

    def sign_in_code(self, user: Dict[str, Any]) -> str:
        return self.control("issueCode", user=user, scopes=SCOPES, redirectUri=REDIRECT_URI)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


@pytest.fixture(scope="session")
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    yield provider
    provider.close()


@pytest.fixture
def prefix() -> str:
    return f"pytest-{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)  # command_timeout_ms
    yield client
    client.close()


@pytest.fixture
def make_tokens(redis_client: redis.Redis, prefix: str) -> Iterator[Any]:
    made: List[RedisTokenCache] = []

    def make(**options: Any) -> RedisTokenCache:
        settings = {"redis": redis_client, "prefix": prefix, "encryption_keys": [ENCRYPTION_KEY],
                    "key_name_secret": KEY_NAME_SECRET, **options}
        tokens = RedisTokenCache(**settings)
        made.append(tokens)
        return tokens

    yield make
    for tokens in made:
        tokens.close()


@pytest.fixture
def server(make_tokens: Any, idp: IdentityProvider) -> PythonServer:
    return PythonServer(make_tokens(), idp.auth, idp.url)


class Worker:
    """A server process (Node or Python) speaking node_worker.js's protocol."""

    def __init__(self, language: str, redis_url: str, prefix: str, idp: IdentityProvider) -> None:
        env = {**os.environ, "WORKER_REDIS_URL": redis_url, "WORKER_PREFIX": prefix, "WORKER_IDP_URL": idp.url,
               "WORKER_MSAL_AUTH": json.dumps(idp.auth), "TEST_ENCRYPTION_KEY": ENCRYPTION_KEY,
               "TEST_KEY_NAME_SECRET": KEY_NAME_SECRET,
               "PYTHONPATH": os.pathsep.join([str(ROOT / "python"), str(HERE)])}
        command = (["node", str(HERE / "support" / "node_worker.js")] if language == "node"
                   else [sys.executable, str(HERE / "support" / "python_worker.py")])
        self.language = language
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, bufsize=1)
        self.next_id = 0
        assert json.loads(self.readline()).get("ready"), f"{language} worker did not start"

    def readline(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.language} worker exited ({self.process.poll()})")
        return line

    def send(self, op: str, **args: Any) -> int:
        self.next_id += 1
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"id": self.next_id, "op": op, "args": args}) + "\n")
        self.process.stdin.flush()
        return self.next_id

    def receive(self) -> Dict[str, Any]:
        return json.loads(self.readline())

    def call(self, op: str, **args: Any) -> Any:
        self.send(op, **args)
        reply = self.receive()
        if not reply["ok"]:
            raise RuntimeError(f"{self.language} worker {op}: {reply['error']}")
        return reply["result"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


@pytest.fixture
def workers(redis_url: str, prefix: str, idp: IdentityProvider) -> Iterator[Any]:
    started: List[Worker] = []

    def start(language: str) -> Worker:
        worker = Worker(language, redis_url, prefix, idp)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.close()


@pytest.fixture
def flask_app(make_tokens: Any, idp: IdentityProvider, prefix: str) -> Any:
    """A Flask app on RedisSessionInterface (support/flask_app.py); its session keys under this test's prefix."""
    from support.flask_app import make_app  # Flask only for the tests that use it

    def make(tokens: Any = None, **options: Any) -> Any:
        return make_app(tokens or make_tokens(), idp.auth, idp.url, prefix=f"{prefix}sess:", **options)
    return make
