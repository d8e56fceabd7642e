"""Starts the Flask example: python3 examples/flask/server.py (npm run start:flask does it with a local Redis and the
dev identity provider). PORT (default 5000), HOST (default 127.0.0.1); the rest: config.py."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent / "python")]  # this example, and the package built in place

from app import create_app  # noqa: E402
from config import log_warnings, settings_from_environment  # noqa: E402


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per step, not per request
    logger = logging.getLogger("flask-example")
    settings = settings_from_environment()
    log_warnings(settings, logger)
    app = create_app(settings, logger)
    app.extensions["example"]["redis"].ping()  # does not start when Redis does not answer
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "5000"))
    mode = "Microsoft Entra ID" if settings.identity.mode == "entra" else f"dev identity provider {settings.identity.dev_idp_url}"
    logger.info(f"Flask example listening on http://{'localhost' if host == '127.0.0.1' else host}:{port} "
                f"(Redis at {settings.redis_url.split('@')[-1]}; {mode})")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
