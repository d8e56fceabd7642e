#pragma once
// Test data for key spellings: the same credentials keyed the way each MSAL library keys them. Written for these tests
// after reading each library's key code and published test caches (nothing copied from them):
//   - msal-node 7 (msal-common 16 generateCredentialKey): <home>-<env>-<type>-<client or family>-<realm>-<target>-
//     <scheme>[-<components hash>], lowercased; accounts <home>-<env>-<home tenant>;
//   - msal-node 2 (msal-common 14): a requestedClaimsHash segment before the scheme;
//   - msal-python (TokenCache.key_makers), which MSAL Java's serialized_cache.json and MSAL Go 1.1's caches share:
//     no scheme; refresh tokens <home>-<env>-refreshtoken-<client>--<target>; IdTokens end in "-"; AppMetadata keys
//     not lowercased;
//   - MSAL Go 1.0 (v1.0_v1.1_cache.json): the same, but the credential type, AppMetadata and realm keep their case;
//   - MSAL.NET (CacheFromTheFuture.json): msal-python's, but a family refresh token keyed by its family id.

#include <string>

#include "fixtures.hpp"

namespace spelling_fixtures {

using msalcache::json;

inline constexpr const char* home = "uid-1.utid-1";  // <uid>.<utid>: the home tenant is utid-1
inline constexpr const char* env = "login.windows.net";
inline constexpr const char* client = "client-1";
inline constexpr const char* realm = "utid-1";

inline json access_token(const std::string& secret, const std::string& target = "User.Read openid profile",
                         const json& expires_on = "1700003600", const json& cached_at = "1700000000") {
    return {{"home_account_id", home}, {"environment", env}, {"credential_type", "AccessToken"},
            {"client_id", client}, {"secret", secret}, {"realm", realm}, {"target", target},
            {"cached_at", cached_at}, {"expires_on", expires_on}, {"extended_expires_on", expires_on},
            {"token_type", "Bearer"}};
}

// msal-node writes no target on a refresh token, msal-python the scopes of the request that brought it.
inline json refresh_token(const std::string& secret, const std::string& target = "", const std::string& family = "") {
    json entry = {{"home_account_id", home}, {"environment", env}, {"credential_type", "RefreshToken"},
                  {"client_id", client}, {"secret", secret}};
    if (!target.empty()) entry["target"] = target;
    if (!family.empty()) entry["family_id"] = family;
    return entry;
}

inline json id_token(const std::string& secret) {
    return {{"home_account_id", home}, {"environment", env}, {"credential_type", "IdToken"}, {"client_id", client},
            {"secret", secret}, {"realm", realm}};
}

inline json account(const std::string& username) {
    return {{"home_account_id", home}, {"environment", env}, {"realm", realm}, {"local_account_id", "uid-1"},
            {"username", username}, {"authority_type", "MSSTS"}};
}

inline json app_metadata(const std::string& family = "") {
    json entry = {{"client_id", client}, {"environment", env}};
    if (!family.empty()) entry["family_id"] = family;
    return entry;
}

// Keys, by library. `target` as the entry holds it: every library lowercases it in the key.
namespace node7 {
inline std::string at(const std::string& target) {
    return std::string(home) + "-" + env + "-accesstoken-" + client + "-" + realm + "-" + target + "-";
}
inline std::string rt(const std::string& id = client, const std::string& target = "") {
    return std::string(home) + "-" + env + "-refreshtoken-" + id + "--" + target + "-";
}
inline std::string idt() { return std::string(home) + "-" + env + "-idtoken-" + client + "-" + realm + "--"; }
inline std::string acct() { return std::string(home) + "-" + env + "-" + realm; }
inline std::string meta() { return std::string("appmetadata-") + env + "-" + client; }
}  // namespace node7

namespace python {
inline std::string at(const std::string& target) {
    return std::string(home) + "-" + env + "-accesstoken-" + client + "-" + realm + "-" + target;
}
inline std::string rt(const std::string& target = "") {
    return std::string(home) + "-" + env + "-refreshtoken-" + client + "--" + target;
}
inline std::string idt() { return std::string(home) + "-" + env + "-idtoken-" + client + "-" + realm + "-"; }
}  // namespace python

// A cache from sections of {key: entry}, through parse so that every input is a valid cache.
inline msalcache::token_cache cache(const json& document) { return msalcache::token_cache::parse(document.dump()); }

// The lowercase of a key, as msal-node and msal-python write it.
inline std::string lower(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

}  // namespace spelling_fixtures
