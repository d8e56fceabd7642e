#pragma once
// Test data for the three-way merge: single entries of every known section, built so that one field (the secret,
// username or family_id) tells which side a result came from, and caches made of them through token_cache::parse.

#include <string>

#include "fixtures.hpp"
#include "msalcache/three_way_merge.hpp"

namespace merge_fixtures {

using msalcache::json;
using msalcache::token_cache;

// expires_on and cached_at as given: strings of digits or integers.
inline json access_token(const std::string& secret, const json& expires_on = "1700003600",
                         const json& cached_at = "1700000000", const std::string& home = fixtures::alice) {
    return {{"home_account_id", home}, {"environment", fixtures::environment}, {"credential_type", "AccessToken"},
            {"client_id", fixtures::client}, {"secret", secret}, {"realm", fixtures::tenant},
            {"target", "user.read"}, {"cached_at", cached_at}, {"expires_on", expires_on},
            {"token_type", "Bearer"}};
}

inline json refresh_token(const std::string& secret, const std::string& home = fixtures::alice) {
    return {{"home_account_id", home}, {"environment", fixtures::environment}, {"credential_type", "RefreshToken"},
            {"client_id", fixtures::client}, {"secret", secret}};
}

inline json id_token(const std::string& secret, const std::string& home = fixtures::alice) {
    return {{"home_account_id", home}, {"environment", fixtures::environment}, {"credential_type", "IdToken"},
            {"client_id", fixtures::client}, {"secret", secret}, {"realm", fixtures::tenant}};
}

inline json account(const std::string& username, const std::string& home = fixtures::alice) {
    return {{"home_account_id", home}, {"environment", fixtures::environment}, {"realm", fixtures::tenant},
            {"username", username}};
}

inline json app_metadata(const std::string& family) {
    return {{"client_id", fixtures::client}, {"environment", fixtures::environment}, {"family_id", family}};
}

// The key msal-node 7 gives the access token above.
inline const std::string at_key = fixtures::credential_key(access_token(""));

// A cache from a JSON document, through parse so every test input is also a valid cache.
inline token_cache cache(const json& document) { return token_cache::parse(document.dump()); }

// A cache holding one AccessToken entry under at_key, or an empty AccessToken section for null.
inline token_cache with_at(const json& entry) {
    json section = json::object();
    if (!entry.is_null()) section[at_key] = entry;
    return cache({{"AccessToken", section}});
}

// The value of the AccessToken entry at_key in a result, null when absent.
inline json at_of(const token_cache& result) {
    const json& entries = result.entries(msalcache::section::access_token);
    const auto it = entries.find(at_key);
    return it == entries.end() ? json(nullptr) : *it;
}

inline std::string counts(const msalcache::merge_report& r) {
    return "mine " + std::to_string(r.taken_mine) + ", theirs " + std::to_string(r.taken_theirs) + ", conflicts " +
           std::to_string(r.conflicts) + ", removed " + std::to_string(r.removed);
}

}  // namespace merge_fixtures
