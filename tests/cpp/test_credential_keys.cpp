// One entry per credential, whichever library wrote it: identity, spellings, rekey.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "msalcache/credential_keys.hpp"
#include "spelling_fixtures.hpp"

using namespace msalcache;
using namespace spelling_fixtures;
using fixtures::keys_of;

namespace {

token_cache rekeyed(const json& document, key_spelling spelling = key_spelling::msal_node,
                    rekey_report* report = nullptr) {
    return rekey(cache(document), spelling, report);
}

std::string secret_of(const token_cache& c, const std::string& section, const std::string& key) {
    return c.entries(section).at(key).at("secret").get<std::string>();
}

}  // namespace

TEST(CredentialKeys, MsalNodeCacheIsLeftAsItIs) {
    // msal-node 7's own cache: family refresh token, components hash, on-behalf-of token, unknown section.
    const auto original = token_cache::parse(fixtures::msal_node_cache());
    rekey_report report;
    const auto out = rekey(original, key_spelling::msal_node, &report);
    EXPECT_EQ(out.dump(), original.dump());
    EXPECT_EQ(report.rekeyed + report.collapsed + report.unrecognised + report.dropped, 0u);
}

TEST(CredentialKeys, PythonSpellingsMoveToMsalNodes) {
    // msal-python's sign-in, as it writes it (target sorted and lowercased, the refresh token with the target).
    const json doc = {{"Account", {{node7::acct(), account("a@x")}}},
                      {"IdToken", {{python::idt(), id_token("idt")}}},
                      {"AccessToken", {{python::at("openid profile user.read"),
                                        access_token("at", "openid profile user.read")}}},
                      {"RefreshToken", {{python::rt("openid profile user.read"),
                                         refresh_token("rt", "openid profile user.read")}}},
                      {"AppMetadata", {{node7::meta(), app_metadata()}}}};
    rekey_report report;
    const auto out = rekeyed(doc, key_spelling::msal_node, &report);
    EXPECT_EQ(keys_of(out, "IdToken"), std::vector<std::string>{node7::idt()});
    EXPECT_EQ(keys_of(out, "AccessToken"), std::vector<std::string>{node7::at("openid profile user.read")});
    // msal-node keys a refresh token's target when the entry has one: its own removal must find this entry.
    EXPECT_EQ(keys_of(out, "RefreshToken"),
              std::vector<std::string>{node7::rt(client, "openid profile user.read")});
    EXPECT_EQ(report.rekeyed, 3u);
    EXPECT_EQ(report.collapsed, 0u);
    // Entries are never changed, only their keys.
    EXPECT_EQ(out.entries("AccessToken").front(), doc["AccessToken"].front());
}

TEST(CredentialKeys, DuplicatesCollapseToOneUnderMsalNodesKey) {
    // msal-node's refresh, then msal-python's: each wrote its own spelling of the same access token.
    for (bool python_later : {false, true}) {
        const auto node = access_token("node", "User.Read openid profile", python_later ? "1700003600" : "1700009000");
        const auto py = access_token("python", "openid profile user.read", python_later ? "1700009000" : "1700003600");
        json section = json::object();
        section[node7::at("user.read openid profile")] = node;
        section[python::at("openid profile user.read")] = py;
        rekey_report report;
        const auto out = rekeyed({{"AccessToken", section}}, key_spelling::msal_node, &report);
        ASSERT_EQ(out.entries("AccessToken").size(), 1u);
        EXPECT_EQ(report.collapsed, 1u);
        // The later expiry wins, wherever it stands; its key is msal-node's for its own target.
        const auto& kept = out.entries("AccessToken").front();
        EXPECT_EQ(kept.at("secret"), python_later ? "python" : "node");
        EXPECT_EQ(keys_of(out, "AccessToken").front(),
                  python_later ? node7::at("openid profile user.read") : node7::at("user.read openid profile"));
    }
}

TEST(CredentialKeys, TiesAndOtherKindsKeepTheLaterEntry) {
    // Same expiry and cached_at: the later in the document (the one its writer added last).
    json ats = json::object();
    ats[python::at("openid profile user.read")] = access_token("first", "openid profile user.read");
    ats[node7::at("user.read openid profile")] = access_token("second");
    // A refresh token by msal-node (no target) and by msal-python (target, client id).
    json rts = json::object();
    rts[node7::rt()] = refresh_token("node");
    rts[python::rt("openid profile")] = refresh_token("python", "openid profile");
    json idts = json::object();
    idts[node7::idt()] = id_token("node");
    idts[python::idt()] = id_token("python");
    const auto out = rekeyed({{"IdToken", idts}, {"AccessToken", ats}, {"RefreshToken", rts}});
    EXPECT_EQ(secret_of(out, "AccessToken", node7::at("user.read openid profile")), "second");
    EXPECT_EQ(secret_of(out, "RefreshToken", node7::rt(client, "openid profile")), "python");
    EXPECT_EQ(secret_of(out, "IdToken", node7::idt()), "python");
    EXPECT_EQ(out.entries("RefreshToken").size(), 1u);
    EXPECT_EQ(out.entries("IdToken").size(), 1u);
}

TEST(CredentialKeys, KeptEntryTakesThePlaceOfTheFirst) {
    json ats = json::object();
    ats[node7::at("user.read")] = access_token("a", "user.read", "1700001000");
    ats[node7::at("mail.read")] = access_token("b", "mail.read");
    ats[python::at("user.read")] = access_token("c", "user.read", "1700002000");
    const auto out = rekeyed({{"AccessToken", ats}});
    EXPECT_EQ(keys_of(out, "AccessToken"), (std::vector<std::string>{node7::at("user.read"), node7::at("mail.read")}));
    EXPECT_EQ(secret_of(out, "AccessToken", node7::at("user.read")), "c");
}

TEST(CredentialKeys, WhatTellsCredentialsApart) {
    // Each pair differs in one identity field and keeps both entries; the target compares as a set of scopes.
    auto pop = access_token("pop", "user.read");
    pop["token_type"] = "pop";
    auto obo = access_token("obo", "user.read");
    obo["userAssertionHash"] = "h1";
    auto ssh = access_token("ssh", "user.read");
    ssh["key_id"] = "k1";
    json ats = json::object();
    ats[node7::at("user.read")] = access_token("bearer", "user.read");
    ats[node7::at("user.read").substr(0, node7::at("user.read").size() - 1) + "-pop"] = pop;
    ats[python::at("user.read")] = obo;  // msal-node's key would be the Bearer token's: it keeps its own
    ats["my-own-key"] = ssh;
    ats[node7::at("user.read mail.read")] = access_token("two", "user.read mail.read");
    ats[python::at("MAIL.READ  user.read")] = access_token("same-set", "MAIL.READ  user.read", "1700009999");
    rekey_report report;
    const auto out = rekeyed({{"AccessToken", ats}}, key_spelling::msal_node, &report);
    EXPECT_EQ(out.entries("AccessToken").size(), 5u);
    EXPECT_EQ(report.collapsed, 1u);
    EXPECT_EQ(report.unrecognised, 1u);
    EXPECT_EQ(secret_of(out, "AccessToken", python::at("user.read")), "obo");  // contested: kept its key
    EXPECT_EQ(secret_of(out, "AccessToken", "my-own-key"), "ssh");
    EXPECT_EQ(secret_of(out, "AccessToken", node7::at("mail.read  user.read")), "same-set");
}

TEST(CredentialKeys, UnrecognisedKeysStayAndAreNeverCollapsed) {
    // The same fields under a key no library writes: the core cannot know what that key stands for.
    json ats = json::object();
    ats["custom-1"] = access_token("x", "user.read");
    ats["custom-2"] = access_token("y", "user.read");
    ats[node7::at("user.read")] = access_token("z", "user.read");
    rekey_report report;
    const auto out = rekeyed({{"AccessToken", ats}}, key_spelling::msal_node, &report);
    EXPECT_EQ(keys_of(out, "AccessToken"), (std::vector<std::string>{"custom-1", "custom-2", node7::at("user.read")}));
    EXPECT_EQ(report.unrecognised, 2u);
    // A key that spells other fields (here another client) is no spelling of this entry either.
    json other = json::object();
    other[python::at("user.read")] = access_token("w", "mail.read");
    EXPECT_EQ(keys_of(rekeyed({{"AccessToken", other}}), "AccessToken"), std::vector<std::string>{python::at("user.read")});
}

TEST(CredentialKeys, UnknownFieldsAndSectionsSurvive) {
    auto at = access_token("at", "openid user.read");
    at["x_future_field"] = {{"nested", json::array({1, "two", nullptr})}};
    at["cached_at"] = 1700000000;  // numeric timestamps, as other writers do
    const json doc = {{"X-Before", {{"k", "v"}}}, {"AccessToken", {{python::at("openid user.read"), at}}},
                      {"X-After", json::array({1, 2})}};
    const auto out = rekeyed(doc);
    EXPECT_EQ(out.dump(), json({{"X-Before", {{"k", "v"}}}, {"AccessToken", {{node7::at("openid user.read"), at}}},
                                {"X-After", json::array({1, 2})}})
                              .dump());
}

TEST(CredentialKeys, RoundTripsBetweenSpellings) {
    // Node -> Python -> Node gives msal-node's cache back byte for byte, but for the entry with
    // additionalCacheKeyComponents: msal-python's key has no hash, and the core never computes one.
    auto doc = json::parse(fixtures::msal_node_cache());
    const auto node_cache = cache(doc);
    const auto python_cache = rekey(node_cache, key_spelling::msal_python);
    const auto back = rekey(python_cache, key_spelling::msal_node);
    const auto app_key = keys_of(node_cache, "AccessToken")[1];
    auto expected = doc;
    auto& ats = expected["AccessToken"];
    const auto python_app_key = *spell_key("AccessToken", ats[app_key], key_spelling::msal_python);
    EXPECT_EQ(keys_of(back, "AccessToken")[1], python_app_key);
    // Everything else is back, in order.
    for (auto section : {"Account", "IdToken", "RefreshToken", "AppMetadata"}) {
        EXPECT_EQ(keys_of(back, section), keys_of(node_cache, section)) << section;
    }
    // Python -> Node -> Python is exact.
    EXPECT_EQ(rekey(back, key_spelling::msal_python).dump(), python_cache.dump());
    // Re-keying to one spelling twice changes nothing the second time.
    EXPECT_EQ(rekey(python_cache, key_spelling::msal_python).dump(), python_cache.dump());
}

TEST(CredentialKeys, MsalPythonSpelling) {
    const json doc = {{"Account", {{node7::acct(), account("a@x")}}},
                      {"IdToken", {{node7::idt(), id_token("idt")}}},
                      {"AccessToken", {{node7::at("user.read openid"), access_token("at", "User.Read openid")}}},
                      {"RefreshToken", {{node7::rt("1"), refresh_token("rt", "", "1")}}},
                      {"AppMetadata", {{node7::meta(), app_metadata("1")}}}};
    auto upper = doc;  // msal-python keeps the case of an AppMetadata key (and only there)
    upper["AppMetadata"] = {{"appmetadata-Login.Windows.Net-Client-1", app_metadata("1")}};
    upper["AppMetadata"].front()["environment"] = "Login.Windows.Net";
    upper["AppMetadata"].front()["client_id"] = "Client-1";
    const auto out = rekeyed(upper, key_spelling::msal_python);
    EXPECT_EQ(keys_of(out, "IdToken"), std::vector<std::string>{python::idt()});
    EXPECT_EQ(keys_of(out, "AccessToken"), std::vector<std::string>{python::at("user.read openid")});
    // A family refresh token under its client id: msal-python's key_maker ignores family_id.
    EXPECT_EQ(keys_of(out, "RefreshToken"), std::vector<std::string>{python::rt()});
    EXPECT_EQ(keys_of(out, "Account"), std::vector<std::string>{node7::acct()});
    EXPECT_EQ(keys_of(out, "AppMetadata"), std::vector<std::string>{"appmetadata-Login.Windows.Net-Client-1"});
    EXPECT_EQ(keys_of(rekeyed(upper), "AppMetadata"), std::vector<std::string>{"appmetadata-login.windows.net-client-1"});
}

TEST(CredentialKeys, IdentityAndSpellKeyApi) {
    const auto at = access_token("at", "User.Read openid");
    const auto a = credential_identity("AccessToken", node7::at("user.read openid"), at);
    const auto b = credential_identity("AccessToken", python::at("USER.READ OPENID"), at);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a, b);
    EXPECT_FALSE(credential_identity("AccessToken", "other", at).has_value());
    EXPECT_FALSE(credential_identity("X-Unknown", node7::at("user.read openid"), at).has_value());
    EXPECT_EQ(spell_key("AccessToken", at, key_spelling::msal_node), node7::at("user.read openid"));
    EXPECT_EQ(spell_key("AccessToken", at, key_spelling::msal_python), python::at("user.read openid"));
    // Non-ASCII text: each library lowercases it its own way, so no key is guessed.
    auto accented = at;
    accented["realm"] = "R\xC3\x89";
    EXPECT_FALSE(spell_key("AccessToken", accented, key_spelling::msal_node).has_value());
    // msal-node 7's key of an entry with components needs the hash from an msal-node key.
    auto app = at;
    app["additionalCacheKeyComponents"] = {{"fmi_path", "p"}};
    EXPECT_FALSE(spell_key("AccessToken", app, key_spelling::msal_node).has_value());
    EXPECT_EQ(spell_key("AccessToken", app, key_spelling::msal_node, node7::at("user.read openid") + "-h4sh"),
              node7::at("user.read openid") + "-h4sh");
}

TEST(CredentialKeys, RekeyJsonParsesStrictly) {
    EXPECT_EQ(rekey_json(R"({"AccessToken":{}})", key_spelling::msal_node), R"({"AccessToken":{}})");
    EXPECT_THROW(rekey_json("{", key_spelling::msal_node), cache_error);
    EXPECT_THROW(rekey_json(R"({"AccessToken":{"k":{}}})", key_spelling::msal_python), cache_error);
}
