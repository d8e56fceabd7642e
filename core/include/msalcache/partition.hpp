#pragma once
// Splitting one cache into the partitions a shared store keeps apart, and keeping a cache to its own partition.

#include <string>
#include <utility>
#include <vector>

#include "msalcache/token_cache.hpp"

namespace msalcache {

enum class partition_kind {
    account,     // a signed-in user: entries whose home_account_id is the id
    app_tenant,  // client-credential tokens: home_account_id "" and realm = the tenant id
    assertion,   // on-behalf-of tokens: credentials whose userAssertionHash is the id
};

struct partition_id {
    partition_kind kind;
    std::string value;

    // "account:<home_account_id>", "app:<tenant>", "obo:<userAssertionHash>"
    std::string to_string() const;
    static partition_id from_string(std::string_view text);  // throws cache_error on an unknown prefix
    friend bool operator==(const partition_id& a, const partition_id& b) {
        return a.kind == b.kind && a.value == b.value;
    }
    friend bool operator<(const partition_id& a, const partition_id& b) {
        return a.kind != b.kind ? a.kind < b.kind : a.value < b.value;
    }
};

// Which partition a credential (IdToken/AccessToken/RefreshToken entry) belongs to. Precedence: a non-empty
// userAssertionHash -> assertion; else an empty home_account_id -> app_tenant(realm); else account(home_account_id).
partition_id partition_of_credential(const json& entry);

// Every partition that has at least one entry in the cache, sorted, without duplicates. Accounts without
// credentials count for account(home_account_id).
std::vector<partition_id> partitions_in(const token_cache& cache);

struct restrict_result {
    token_cache cache;
    std::vector<std::string> dropped_home_account_ids;  // distinct, sorted; "" stands for app tokens
    std::size_t dropped_entries = 0;  // Account and credential entries; AppMetadata left without credentials is not
                                      // counted (it holds no user data), so 0 means nothing foreign was found
};

// Keeps only what belongs to one of `allowed`:
//  - account(h): Account and IdToken entries with home_account_id h, and credentials that partition_of_credential
//    maps to account(h);
//  - app_tenant(t): credentials mapped to app_tenant(t);
//  - assertion(x): credentials mapped to assertion(x), plus the Account and IdToken entries of the home accounts
//    those credentials name.
// AppMetadata entries are kept when their client_id is the client_id of a kept credential. Unknown sections and
// unknown fields are kept unchanged. Entry order is preserved.
restrict_result restrict_to(const token_cache& cache, const std::vector<partition_id>& allowed);

// One cache per partition (as restrict_to would keep it), in partitions_in order. Unknown top-level sections are
// copied into every partition.
std::vector<std::pair<partition_id, token_cache>> split(const token_cache& cache);

// The union of the partitions' entries, sections in canonical order (Account, IdToken, AccessToken, RefreshToken,
// AppMetadata, then unknown sections in first-seen order). An entry key present in several inputs with different
// values is a cache_error (partitions must not disagree). merge(split(c)) equals c as a JSON value.
token_cache merge(const std::vector<token_cache>& partitions);

}  // namespace msalcache
