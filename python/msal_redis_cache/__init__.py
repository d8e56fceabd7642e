"""msal-redis-cache for msal-python: a shared token cache in Redis, the same format and rules as the Node package.

    cache = RedisTokenCache(redis=redis.Redis(socket_timeout=1, socket_connect_timeout=1), encryption_keys=[key],
                            key_name_secret=secret)
    app = msal.ConfidentialClientApplication(client_id, ..., token_cache=cache.cache_for(session_id=sid))
"""

from .errors import CacheFormatError, CacheStoreError, ConfigurationError, MsalRedisCacheError
from .redis_token_cache import RedisTokenCache
from .token_cache import PartitionTokenCache

__all__ = [
    "RedisTokenCache",
    "PartitionTokenCache",
    "MsalRedisCacheError",
    "CacheFormatError",
    "CacheStoreError",
    "ConfigurationError",
]
__version__ = "0.1.0"
