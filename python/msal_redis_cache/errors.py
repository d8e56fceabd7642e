"""Error classes users can catch. Every message starts with the package name so it is easy to spot in an app's logs
(the same classes as the Node package's js/errors.js)."""


class MsalRedisCacheError(Exception):
    """The base class of every error this package raises."""

    def __init__(self, message: str) -> None:
        super().__init__(f"msal-redis-cache: {message}")


class CacheFormatError(MsalRedisCacheError):
    """A cache document (from msal or from Redis) that the core refused: invalid JSON, wrong schema, over a limit."""


class CacheStoreError(MsalRedisCacheError):
    """Redis failed or was unreachable while loading or storing a partition. ``__cause__`` holds redis-py's error."""


class ConfigurationError(MsalRedisCacheError):
    """Invalid options or arguments passed to this package."""
