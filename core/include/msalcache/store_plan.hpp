#pragma once
// The two decisions the Redis plugin asks of the core: what to do with a value read from the store, and what to
// write back after msal changed the cache. Pure functions of their inputs.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "msalcache/credential_keys.hpp"
#include "msalcache/expiry.hpp"
#include "msalcache/partition.hpp"
#include "msalcache/three_way_merge.hpp"
#include "msalcache/token_cache.hpp"

namespace msalcache {

struct read_plan {
    // Set only when the stored value held entries outside `allowed` (they are dropped): the cache to load instead.
    // Empty when the stored text can be handed to msal unchanged.
    std::string rewritten;
    std::vector<std::string> home_account_ids;          // distinct, sorted, non-empty ids present after the check
    std::vector<std::string> dropped_home_account_ids;  // see restrict_result
};

// Validates a stored cache and keeps it to `allowed`. An empty `allowed` keeps everything (the partition has no
// owner yet). Throws cache_error when the text is not a valid cache.
read_plan plan_read(std::string_view stored, const std::vector<partition_id>& allowed, const parse_limits& limits = {});

struct write_request {
    std::vector<partition_id> allowed;  // must not be empty
    partition_kind kind = partition_kind::account;  // decides the TTL rule
    expiry_options expiry;
    ttl_policy ttl;
    std::int64_t created_at = 0;  // when the partition was first written (epoch seconds)
    parse_limits limits;
};

struct write_plan {
    std::string cache;  // compact JSON to store; empty when has_tokens is false
    // False also when tokens remain but the TTL rule gives 0 (past the absolute lifetime): the key is deleted either
    // way, so has_tokens == (ttl_seconds > 0) == !cache.empty(). expiry.has_tokens keeps the sweep's own answer.
    bool has_tokens = false;
    std::int64_t ttl_seconds = 0;  // 0 with has_tokens false: delete the key
    std::vector<std::string> home_account_ids;  // as in read_plan, after restriction and expiry
    std::vector<std::string> dropped_home_account_ids;
    std::size_t dropped_entries = 0;
    expiry_report expiry;
};

// Validate -> rekey(msal_node) (one entry per credential, credential_keys.hpp) -> restrict_to(allowed) -> expire ->
// partition_ttl -> dump.
write_plan plan_write(std::string_view serialized, const write_request& request);

// plan_write for a compare-and-set that failed: merge_three_way(base, mine, theirs), then the same restrict_to ->
// expire -> partition_ttl -> dump. `base` (what this request loaded) and `theirs` (what is stored now) may be empty,
// meaning no stored cache (`{}`); `mine` (what msal holds now) must be a cache. Each is parsed as strictly as
// token_cache::parse with request.limits; a cache_error names which one was invalid ("theirs: invalid JSON ...").
// `report`, when given, receives the merge's counts.
write_plan plan_merge_write(std::string_view base, std::string_view mine, std::string_view theirs,
                            const write_request& request, merge_report* report = nullptr);

// A description of a cache safe to show a user: no secret, no token value. JSON:
// {"accounts":[{"home_account_id","username","environment","realm"}],
//  "tokens":[{"kind":"AccessToken|RefreshToken|IdToken","home_account_id","realm","client_id","target",
//             "expires_on":<int|null>,"cached_at":<int|null>,"secret_bytes":<int>}],
//  "bytes":<size of the compact cache>}
std::string describe(const token_cache& cache);

}  // namespace msalcache
