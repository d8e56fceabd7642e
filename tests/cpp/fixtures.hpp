#pragma once
// Test data: a cache exactly as msal-node writes it, and a builder for small caches in the same shape.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "msalcache/token_cache.hpp"

// gmock's HasSubstr without linking gmock.
#define EXPECT_CONTAINS(text, part)                                                                 \
    EXPECT_NE(std::string(text).find(part), std::string::npos) << "in: " << (text) << "\nlooked for: " << (part)

namespace fixtures {

using msalcache::json;

inline constexpr const char* alice = "a1b2c3d4-1111-4e5f-8a9b-0c1d2e3f4a5b.72f988bf-86f1-41af-91ab-2d7cd011db47";
inline constexpr const char* bob = "b2c3d4e5-2222-4f60-9bac-1d2e3f4a5b6c.9188040d-6c67-4c5b-b112-36a304b66dad";
inline constexpr const char* carol = "c3d4e5f6-3333-4a7b-8c9d-2e3f4a5b6c7d.72f988bf-86f1-41af-91ab-2d7cd011db47";
inline constexpr const char* tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
inline constexpr const char* client = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9";
inline constexpr const char* environment = "login.windows.net";
inline constexpr const char* assertion_hash = "nN6Wq2r1Zb3-_x9kQ7vYtA8uJ5cL0mH2dF4gS6pE1oI";  // base64url: '-' and '_'
inline constexpr std::int64_t now = 1700000000;

// JSON.stringify output (node 20) of the object msal-node 7.2.1's Serializer builds, keyed as msal-common 16 keys
// entries (credentials: home-environment-type-client or family-realm-target-scheme, the scheme empty for Bearer,
// then the hash of additionalCacheKeyComponents if any; accounts: home-environment-tenant; all lowercased), under the
// environment msal uses for the public cloud (login.windows.net, the instance discovery's preferred_cache). Plus what
// other writers add: numeric timestamps on the app token, and an unknown section with every JSON type, control
// characters, DEL, U+2028, escaped quotes and non-ASCII text. Holds: Alice (Account, IdToken, AccessToken, family
// RefreshToken), an app token for `tenant` (home_account_id "", additionalCacheKeyComponents from claimsFromClient),
// Carol's on-behalf-of AccessToken (userAssertionHash, not part of the key) with her RefreshToken (msal-node 7 does
// not serialise a refresh token's userAssertionHash), and one AppMetadata. The access tokens expire at now + 3599.
inline const std::string& msal_node_cache() {
    static const std::string text =
    R"json({)json"
    R"json("Account":{)json"
    R"json("a1b2c3d4-1111-4e5f-8a9b-0c1d2e3f4a5b.72f988bf-86f1-41af-91ab-2d7cd011db47-login.windows.net-72f988bf-86f1-41af-91ab-2d7cd011db47":{)json"
    R"json("home_account_id":"a1b2c3d4-1111-4e5f-8a9b-0c1d2e3f4a5b.72f988bf-86f1-41af-91ab-2d7cd011db47",)json"
    R"json("environment":"login.windows.net","realm":"72f988bf-86f1-41af-91ab-2d7cd011db47",)json"
    R"json("local_account_id":"a1b2c3d4-1111-4e5f-8a9b-0c1d2e3f4a5b","username":"zoe@contoso.com",)json"
    R"json("authority_type":"MSSTS","name":"Zoë Müller 😀","client_info":"eyJ1aWQiOiJ1In0",)json"
    R"json("tenantProfiles":["{\"tenantId\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\",\"localAccountId\":\"a1b2c3d4-1111-4e5f-8a9b-0c1d2e3f4a5b\",\"name\":\"Zoë Müller 😀\",\"username\":\"zoe@contoso.com\",\"isHomeTenant\":true}"]},)json"
    R"json("c3d4e5f6-3333-4a7b-8c9d-2e3f4a5b6c7d.72f988bf-86f1-41af-91ab-2d7cd011db47-login.windows.net-72f988bf-86f1-41af-91ab-2d7cd011db47":{)json"
    R"json("home_account_id":"c3d4e5f6-3333-4a7b-8c9d-2e3f4a5b6c7d.72f988bf-86f1-41af-91ab-2d7cd011db47",)json"
    R"json("environment":"login.windows.net","realm":"72f988bf-86f1-41af-91ab-2d7cd011db47",)json"
    R"json("local_account_id":"c3d4e5f6-3333-4a7b-8c9d-2e3f4a5b6c7d","username":"carol@contoso.com",)json"
    R"json("authority_type":"MSSTS","name":"Carol \"CJ\" O'Neil","client_info":"eyJ1aWQiOiJ1In0",)json"
    R"json("tenantProfiles":["{\"tenantId\":\"72f988bf-86f1-41af-91ab-2d7cd011db47\",\"localAccountId\":\"c3d4e5f6-3333-4a7b-8c9d-2e3f4a5b6c7d\",\"name\":\"Carol \\\"CJ\\\" O'Neil\",\"username\":\"carol@contoso.com\",\"isHomeTenant\":true}"]}},)json"
    R"json("IdToken":{)json"
    R"json("a1b2c3d4-1111-4e5f-8a9b-0c1d2e3f4a5b.72f988bf-86f1-41af-91ab-2d7cd011db47-login.windows.net-idtoken-0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9-72f988bf-86f1-41af-91ab-2d7cd011db47--":{)json"
    R"json("home_account_id":"a1b2c3d4-1111-4e5f-8a9b-0c1d2e3f4a5b.72f988bf-86f1-41af-91ab-2d7cd011db47",)json"
    R"json("environment":"login.windows.net","credential_type":"IdToken",)json"
    R"json("client_id":"0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9",)json"
    R"json("secret":"eyJhbGciOiJSUzI1NiJ9.eyJuYW1lIjoiWm_DqyJ9.c2ln",)json"
    R"json("realm":"72f988bf-86f1-41af-91ab-2d7cd011db47"}},)json"
    R"json("AccessToken":{)json"
    R"json("a1b2c3d4-1111-4e5f-8a9b-0c1d2e3f4a5b.72f988bf-86f1-41af-91ab-2d7cd011db47-login.windows.net-accesstoken-0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9-72f988bf-86f1-41af-91ab-2d7cd011db47-user.read openid profile email-":{)json"
    R"json("home_account_id":"a1b2c3d4-1111-4e5f-8a9b-0c1d2e3f4a5b.72f988bf-86f1-41af-91ab-2d7cd011db47",)json"
    R"json("environment":"login.windows.net","credential_type":"AccessToken",)json"
    R"json("client_id":"0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9","secret":"eyJ0eXAiOiJKV1QifQ.e30.sig-alice",)json"
    R"json("realm":"72f988bf-86f1-41af-91ab-2d7cd011db47","target":"User.Read openid profile email",)json"
    R"json("cached_at":"1700000000","expires_on":"1700003599","extended_expires_on":"1700007199",)json"
    R"json("refresh_on":"1700001800","token_type":"Bearer"},)json"
    R"json("-login.windows.net-accesstoken-0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9-72f988bf-86f1-41af-91ab-2d7cd011db47-https://graph.microsoft.com/.default---qm1m4elvr1514r5ti2nrvgfdwzidlmpoormdb8eyoo":{)json"
    R"json("home_account_id":"","environment":"login.windows.net","credential_type":"AccessToken",)json"
    R"json("client_id":"0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9","secret":"app-token",)json"
    R"json("realm":"72f988bf-86f1-41af-91ab-2d7cd011db47","target":"https://graph.microsoft.com/.default",)json"
    R"json("cached_at":1700000000,"expires_on":1700003599,"extended_expires_on":1700003599,"token_type":"Bearer",)json"
    R"json("additionalCacheKeyComponents":{"client_claims":"{\"xms_cc\":[\"cp1\"]}"}},)json"
    R"json("c3d4e5f6-3333-4a7b-8c9d-2e3f4a5b6c7d.72f988bf-86f1-41af-91ab-2d7cd011db47-login.windows.net-accesstoken-0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9-72f988bf-86f1-41af-91ab-2d7cd011db47-api://downstream/.default-":{)json"
    R"json("home_account_id":"c3d4e5f6-3333-4a7b-8c9d-2e3f4a5b6c7d.72f988bf-86f1-41af-91ab-2d7cd011db47",)json"
    R"json("environment":"login.windows.net","credential_type":"AccessToken",)json"
    R"json("client_id":"0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9","secret":"obo-token",)json"
    R"json("realm":"72f988bf-86f1-41af-91ab-2d7cd011db47","target":"api://downstream/.default",)json"
    R"json("cached_at":"1700000000","expires_on":"1700003599","extended_expires_on":"1700003599",)json"
    R"json("token_type":"Bearer","userAssertionHash":"nN6Wq2r1Zb3-_x9kQ7vYtA8uJ5cL0mH2dF4gS6pE1oI"}},)json"
    R"json("RefreshToken":{)json"
    R"json("a1b2c3d4-1111-4e5f-8a9b-0c1d2e3f4a5b.72f988bf-86f1-41af-91ab-2d7cd011db47-login.windows.net-refreshtoken-1---":{)json"
    R"json("home_account_id":"a1b2c3d4-1111-4e5f-8a9b-0c1d2e3f4a5b.72f988bf-86f1-41af-91ab-2d7cd011db47",)json"
    R"json("environment":"login.windows.net","credential_type":"RefreshToken",)json"
    R"json("client_id":"0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9","secret":"0.ARoA-refresh-alice","family_id":"1"},)json"
    R"json("c3d4e5f6-3333-4a7b-8c9d-2e3f4a5b6c7d.72f988bf-86f1-41af-91ab-2d7cd011db47-login.windows.net-refreshtoken-0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9---":{)json"
    R"json("home_account_id":"c3d4e5f6-3333-4a7b-8c9d-2e3f4a5b6c7d.72f988bf-86f1-41af-91ab-2d7cd011db47",)json"
    R"json("environment":"login.windows.net","credential_type":"RefreshToken",)json"
    R"json("client_id":"0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9","secret":"0.ARoA-refresh-carol"}},)json"
    R"json("AppMetadata":{)json"
    R"json("appmetadata-login.windows.net-0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9":{)json"
    R"json("client_id":"0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9","environment":"login.windows.net",)json"
    R"json("family_id":"1"}},)json"
    R"json("X-Unknown-Section":{)json"
    R"json("schema":3,)json"
    R"json("ratio":0.5,)json"
    R"json("big":1e+21,)json"
    R"json("negative":-42,)json"
    R"json("max_safe":9007199254740991,)json"
    R"json("flag":true,)json"
    R"json("nothing":null,)json"
    R"json("note":"line1\nline2\ttab\u0001\u001f)json" "\x7f\u2028" R"json( é / \\ \"q\"",)json"
    R"json("nested":{"list":[1,[2,[3,{"deep":"x"}]],{},[]]}}})json";
    return text;
}

// msal-common 16's key of a credential of the kind cache_builder makes (Bearer, no family, no
// additionalCacheKeyComponents): home-environment-type-client-realm-target-scheme, lowercased, the scheme empty. A
// userAssertionHash is not part of it: msal-node 7 keys an on-behalf-of token like any other.
inline std::string credential_key(const json& entry) {
    std::string key;
    for (auto field : {"home_account_id", "environment", "credential_type", "client_id", "realm", "target"}) {
        key += entry.value(field, std::string()) + "-";
    }
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return key;
}

// Small caches in the msal-node shape, keyed the way msal-node 7 keys them. Every section is present, as msal writes
// it. Beyond what msal-node writes, as other writers do: refresh tokens with expires_on or userAssertionHash.
class cache_builder {
  public:
    cache_builder() {
        for (auto name : {"Account", "IdToken", "AccessToken", "RefreshToken", "AppMetadata"}) doc_[name] = json::object();
    }

    cache_builder& account(const std::string& home, const std::string& realm = tenant,
                           const std::string& username = "user@contoso.com") {
        doc_["Account"][home + "-" + environment + "-" + realm] = {
            {"home_account_id", home}, {"environment", environment}, {"realm", realm},
            {"local_account_id", home.substr(0, home.find('.'))}, {"username", username},
            {"authority_type", "MSSTS"}};
        return *this;
    }

    cache_builder& id_token(const std::string& home, const std::string& realm = tenant,
                            const std::string& client_id = client) {
        return credential("IdToken", {{"home_account_id", home}, {"environment", environment},
                                      {"credential_type", "IdToken"}, {"client_id", client_id},
                                      {"secret", "id-token-of-" + home}, {"realm", realm}});
    }

    // expires_on as given: a string or a number, as different writers do.
    cache_builder& access_token(const std::string& home, const std::string& realm, const json& expires_on,
                                const std::string& target = "user.read openid profile",
                                const std::string& client_id = client, const std::string& hash = "") {
        json entry = {{"home_account_id", home}, {"environment", environment}, {"credential_type", "AccessToken"},
                      {"client_id", client_id}, {"secret", "access-token-" + std::to_string(++serial_)},
                      {"realm", realm}, {"target", target}, {"cached_at", "1699990000"},
                      {"expires_on", expires_on}, {"extended_expires_on", expires_on}, {"token_type", "Bearer"}};
        if (!hash.empty()) entry["userAssertionHash"] = hash;
        return credential("AccessToken", std::move(entry));
    }

    cache_builder& user_token(const std::string& home, std::int64_t expires_on) {
        return access_token(home, tenant, std::to_string(expires_on));
    }

    cache_builder& app_token(const std::string& tenant_id, std::int64_t expires_on,
                             const std::string& client_id = client) {
        return access_token("", tenant_id, std::to_string(expires_on), "https://graph.microsoft.com/.default",
                            client_id);
    }

    cache_builder& obo_token(const std::string& home, const std::string& hash, std::int64_t expires_on) {
        return access_token(home, tenant, std::to_string(expires_on), "api://downstream/.default", client, hash);
    }

    cache_builder& refresh_token(const std::string& home, std::optional<std::int64_t> expires_on = std::nullopt,
                                 const std::string& hash = "", const std::string& client_id = client) {
        json entry = {{"home_account_id", home}, {"environment", environment}, {"credential_type", "RefreshToken"},
                      {"client_id", client_id}, {"secret", "refresh-token-" + std::to_string(++serial_)}};
        if (expires_on) entry["expires_on"] = std::to_string(*expires_on);
        if (!hash.empty()) entry["userAssertionHash"] = hash;
        return credential("RefreshToken", std::move(entry));
    }

    cache_builder& app_metadata(const std::string& client_id = client) {
        doc_["AppMetadata"]["appmetadata-" + std::string(environment) + "-" + client_id] = {
            {"client_id", client_id}, {"environment", environment}};
        return *this;
    }

    cache_builder& section(const std::string& name, json value) {
        doc_[name] = std::move(value);
        return *this;
    }

    std::string text() const { return doc_.dump(); }
    // Through parse(), so every built cache is also a valid one.
    msalcache::token_cache build() const { return msalcache::token_cache::parse(text()); }

  private:
    cache_builder& credential(const char* section_name, json entry) {
        const auto key = credential_key(entry);
        doc_[section_name][key] = std::move(entry);
        return *this;
    }

    json doc_ = json::object();
    int serial_ = 0;
};

// The entry keys of one section, in document order.
inline std::vector<std::string> keys_of(const msalcache::token_cache& cache, const std::string& section_name) {
    std::vector<std::string> keys;
    const json& entries = cache.entries(section_name);
    for (auto it = entries.begin(); it != entries.end(); ++it) keys.push_back(it.key());
    return keys;
}

// The message of the cache_error `action` throws; a test fails on any other exception or none.
template <typename Action>
std::string error_of(Action&& action) {
    try {
        action();
    } catch (const msalcache::cache_error& error) {
        return error.what();
    }
    return "<no cache_error>";
}

inline std::string parse_error(std::string_view text, const msalcache::parse_limits& limits = {}) {
    return error_of([&] { msalcache::token_cache::parse(text, limits); });
}

// As an unordered JSON value: key order does not count.
inline nlohmann::json unordered(const msalcache::token_cache& cache) { return nlohmann::json::parse(cache.dump()); }

}  // namespace fixtures
