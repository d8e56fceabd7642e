#pragma once
// What expires and when: sweeping dead tokens out of a partition and choosing the partition's Redis TTL.

#include <cstdint>
#include <optional>

#include "msalcache/partition.hpp"
#include "msalcache/token_cache.hpp"

namespace msalcache {

struct expiry_options {
    std::int64_t now = 0;             // epoch seconds
    std::int64_t skew_seconds = 300;  // msal treats an access token as expired this long before expires_on
};

struct expiry_report {
    std::size_t removed_access_tokens = 0;
    std::size_t removed_refresh_tokens = 0;  // only refresh tokens that carry an expires_on in the past
    std::size_t removed_id_tokens = 0;
    std::size_t removed_accounts = 0;
    bool has_tokens = false;  // an access token still valid (past skew) or any refresh token remains
};

// Removes access tokens with expires_on <= now + skew, refresh tokens with an expires_on <= now, then IdTokens and
// Accounts whose home account has no AccessToken or RefreshToken left.
expiry_report expire(token_cache& cache, const expiry_options& options);

struct ttl_policy {
    std::int64_t sliding_seconds = 24 * 3600;        // idle window: every write restarts it
    std::int64_t absolute_seconds = 14 * 24 * 3600;  // a partition never outlives created_at + this
};

// Seconds the partition should live in the store; 0 means "do not store, delete it".
//  - app_tenant: exactly until the latest access token's expires_on (policy ignored; 0 when none is left);
//  - account / assertion: min(sliding, created_at + absolute - now), further capped by the latest refresh-token
//    expires_on when every refresh token carries one; 0 when the cache holds no token at all.
std::int64_t partition_ttl(const token_cache& cache, partition_kind kind, const ttl_policy& policy,
                           std::int64_t created_at, std::int64_t now);

}  // namespace msalcache
