// One cloud's host names are one environment (cloud_aliases.hpp): the table, the identity, the stored spelling, and
// plan_write / the three-way merge on a partition msal-node (login.windows.net) and msal-python
// (login.microsoftonline.com) both wrote.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../../core/src/cache_index.hpp"
#include "msalcache/cloud_aliases.hpp"
#include "msalcache/credential_keys.hpp"
#include "msalcache/store_plan.hpp"
#include "msalcache/three_way_merge.hpp"
#include "spelling_fixtures.hpp"

using namespace msalcache;
using namespace spelling_fixtures;
using fixtures::keys_of;

namespace {

constexpr const char* python_env = "login.microsoftonline.com";  // msal-python's authority host, same cloud as env

// An entry as msal-python writes it: its authority's host as environment.
json in_python_env(json entry) {
    entry["environment"] = python_env;
    return entry;
}

// msal-python's own key for an entry under python_env.
std::string python_env_key(const std::string& node_env_key) {
    std::string key = node_env_key;
    const auto at = key.find(env);
    return key.replace(at, std::string(env).size(), python_env);
}

std::string env_of(const token_cache& c, const std::string& section, const std::string& key) {
    return c.entries(section).at(key).at("environment").get<std::string>();
}

write_request session_request() {
    write_request request;
    request.allowed = {{partition_kind::account, home}};
    request.expiry.now = 1700000100;
    request.created_at = 1700000000;
    return request;
}

}  // namespace

TEST(CloudAliases, KnownAliasesMapToTheirCloudsPreferredCacheAlias) {
    for (auto host : {"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net",
                      "LOGIN.MicrosoftOnline.COM"}) {
        EXPECT_EQ(cloud_cache_alias(host), std::optional<std::string_view>("login.windows.net")) << host;
    }
    EXPECT_EQ(cache_environment("login.chinacloudapi.cn"), "login.partner.microsoftonline.cn");
    EXPECT_EQ(cache_environment("login.usgovcloudapi.net"), "login.microsoftonline.us");
    EXPECT_EQ(cache_environment("login.microsoftonline.de"), "login.microsoftonline.de");
    EXPECT_EQ(cache_environment("login-us.microsoftonline.com"), "login-us.microsoftonline.com");
    EXPECT_EQ(cache_environment("login.sovcloud-identity.fr"), "login.sovcloud-identity.fr");
    // Pre-production is a cloud of its own, not an alias of the public one.
    EXPECT_EQ(cache_environment("sts.windows-ppe.net"), "login.windows-ppe.net");
    EXPECT_EQ(cache_environment("login.microsoft-ppe.com"), "login.windows-ppe.net");
}

TEST(CloudAliases, OtherHostsAreTheirOwnEnvironment) {
    for (auto host : {"", "contoso.b2clogin.com", "adfs.contoso.com", "login.windows.net.evil.example",
                      "xlogin.windows.net", "localhost:8443"}) {
        EXPECT_FALSE(cloud_cache_alias(host).has_value()) << host;
        EXPECT_EQ(cache_environment(host), host);
    }
}

TEST(CloudAliases, OneCredentialUnderTwoAliasesHasOneIdentity) {
    const auto node = access_token("at");
    const auto python = in_python_env(access_token("at"));
    const auto a = credential_identity("AccessToken", node7::at("user.read openid profile"), node);
    const auto b = credential_identity("AccessToken", python_env_key(python::at("user.read openid profile")), python);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b);
    // Another cloud is another credential.
    auto china = access_token("at");
    china["environment"] = "login.chinacloudapi.cn";
    std::string china_key = python::at("user.read openid profile");
    china_key.replace(china_key.find(env), std::string(env).size(), "login.chinacloudapi.cn");
    const auto c = credential_identity("AccessToken", china_key, china);
    ASSERT_TRUE(c);
    EXPECT_NE(*a, *c);
}

TEST(CloudAliases, MsalNodeSpellingUsesThePreferredCacheAliasPythonsKeepsTheField) {
    const auto python = in_python_env(id_token("idt"));
    EXPECT_EQ(spell_key("IdToken", python, key_spelling::msal_node), node7::idt());
    EXPECT_EQ(spell_key("IdToken", python, key_spelling::msal_python), python_env_key(python::idt()));
    EXPECT_EQ(spell_key("AppMetadata", in_python_env(app_metadata()), key_spelling::msal_node), node7::meta());
    // The key msal-python's key makers get from the core (preferred alias) while the field names its own host: an
    // entry the core recognises, so it is collapsed and rewritten rather than kept aside.
    EXPECT_TRUE(credential_identity("IdToken", node7::idt(), python).has_value());
}

TEST(CloudAliases, RekeyKeepsOneEntryPerCredentialUnderThePreferredAlias) {
    // msal-python signed in (its host, its keys), then msal-node refreshed (login.windows.net, its keys).
    const std::string target = "user.read openid profile";
    const json doc = {
        {"Account", {{python_env_key(node7::acct()), in_python_env(account("a@x"))}, {node7::acct(), account("a@x")}}},
        {"IdToken", {{python_env_key(python::idt()), in_python_env(id_token("idt-py"))}, {node7::idt(), id_token("idt-node")}}},
        {"AccessToken", {{python_env_key(python::at(target)), in_python_env(access_token("at-py", target))},
                         {node7::at(target), access_token("at-node", target, "1700007200", "1700003600")}}},
        {"RefreshToken", {{python_env_key(python::rt(target)), in_python_env(refresh_token("rt-py", target))},
                          {node7::rt(), refresh_token("rt-node")}}},
        {"AppMetadata", {{python_env_key(node7::meta()), in_python_env(app_metadata())}, {node7::meta(), app_metadata()}}}};
    rekey_report report;
    const auto out = rekey(cache(doc), key_spelling::msal_node, &report);
    EXPECT_EQ(report.collapsed, 5u);
    EXPECT_EQ(keys_of(out, "Account"), std::vector<std::string>{node7::acct()});
    EXPECT_EQ(keys_of(out, "IdToken"), std::vector<std::string>{node7::idt()});
    EXPECT_EQ(keys_of(out, "AccessToken"), std::vector<std::string>{node7::at(target)});
    EXPECT_EQ(keys_of(out, "AppMetadata"), std::vector<std::string>{node7::meta()});
    ASSERT_EQ(out.entries("RefreshToken").size(), 1u);
    // The later access token (expires_on), the later refresh token and ID token (document order).
    EXPECT_EQ(out.entries("AccessToken").front().at("secret"), "at-node");
    EXPECT_EQ(out.entries("RefreshToken").front().at("secret"), "rt-node");
    EXPECT_EQ(out.entries("IdToken").front().at("secret"), "idt-node");
    for (auto section : {"Account", "IdToken", "AccessToken", "RefreshToken", "AppMetadata"}) {
        for (const auto& [key, entry] : out.entries(section).items()) EXPECT_EQ(env_of(out, section, key), env);
    }
}

TEST(CloudAliases, AnEntryOnlyMsalPythonWroteIsStoredUnderThePreferredAlias) {
    const json doc = {{"IdToken", {{python_env_key(python::idt()), in_python_env(id_token("idt"))}}}};
    const auto out = rekey(cache(doc), key_spelling::msal_node);
    EXPECT_EQ(keys_of(out, "IdToken"), std::vector<std::string>{node7::idt()});
    EXPECT_EQ(env_of(out, "IdToken", node7::idt()), env);
    // Under msal-python's spelling the entry keeps its environment.
    const auto python = rekey(cache(doc), key_spelling::msal_python);
    EXPECT_EQ(env_of(python, "IdToken", python_env_key(python::idt())), python_env);
}

TEST(CloudAliases, AnEntryThatKeepsItsKeyKeepsItsEnvironment) {
    // A realm that is not ASCII: the core builds no key for it (each library lowercases it its own way), so the entry
    // stays under msal-python's key, and under the host that key names, still recognised.
    auto entry = in_python_env(id_token("idt"));
    entry["realm"] = "tenänt";
    const std::string key = std::string(home) + "-" + python_env + "-idtoken-" + client + "-tenänt-";
    const json doc = {{"IdToken", {{key, entry}}}};
    rekey_report report;
    const auto out = rekey(cache(doc), key_spelling::msal_node, &report);
    EXPECT_EQ(out.dump(), cache(doc).dump());
    EXPECT_EQ(report.unrecognised, 0u);
    EXPECT_TRUE(credential_identity("IdToken", key, out.entries("IdToken").at(key)).has_value());
}

TEST(CloudAliases, HostsOutsideTheTableAreNotTouched) {
    auto entry = id_token("idt");
    entry["environment"] = "contoso.b2clogin.com";
    std::string key = node7::idt();
    key.replace(key.find(env), std::string(env).size(), "contoso.b2clogin.com");
    const json doc = {{"IdToken", {{key, entry}}}};
    EXPECT_EQ(rekey(cache(doc), key_spelling::msal_node).dump(), cache(doc).dump());
}

TEST(CloudAliases, PlanWriteStoresPythonsHostUnderThePreferredAlias) {
    const std::string target = "user.read";
    const json doc = {{"Account", {{node7::acct(), in_python_env(account("a@x"))}}},
                      {"AccessToken", {{node7::at(target), in_python_env(access_token("at", target))}}}};
    const auto text = doc.dump();
    const auto request = session_request();
    // Not as stored: the fast path leaves it to the DOM path, which rewrites the environment.
    EXPECT_FALSE(detail::plan_write_fast(text, request).has_value());
    const auto plan = plan_write(text, request);
    const auto stored = json::parse(plan.cache);
    EXPECT_EQ(stored["AccessToken"][node7::at(target)]["environment"], env);
    EXPECT_EQ(stored["Account"][node7::acct()]["environment"], env);
    // What was stored is as stored: the next write takes the fast path.
    EXPECT_TRUE(detail::plan_write_fast(plan.cache, request).has_value());
}

TEST(CloudAliases, MergeKeepsOneEntryAcrossAliases) {
    // Both loaded msal-python's access token; msal-node refreshed it (theirs), msal-python refreshed it too (mine,
    // issued later), each under its own host.
    const std::string target = "user.read";
    const json base = {{"AccessToken", {{python_env_key(python::at(target)), in_python_env(access_token("at-0", target))}}}};
    const json theirs = {{"AccessToken", {{node7::at(target), access_token("at-node", target, "1700007200", "1700003600")}}}};
    const json mine = {{"AccessToken", {{python_env_key(python::at(target)),
                                         in_python_env(access_token("at-py", target, "1700009000", "1700005400"))}}}};
    const auto merged = merge_three_way(cache(base), cache(mine), cache(theirs));
    ASSERT_EQ(keys_of(merged.cache, "AccessToken"), std::vector<std::string>{node7::at(target)});
    EXPECT_EQ(merged.cache.entries("AccessToken").front().at("secret"), "at-py");
    EXPECT_EQ(env_of(merged.cache, "AccessToken", node7::at(target)), env);
}

TEST(CloudAliases, ManyOneScopeTokensStayOnTheFastPath) {
    // A partition of access tokens for one resource each: their identity digests must differ (a 64-value digest of
    // the scope set collided past a dozen entries and sent every such write down the DOM path).
    json tokens = json::object();
    for (int i = 0; i < 200; ++i) {
        const auto target = "api://resource-" + std::to_string(i) + "/read";
        tokens[node7::at(target)] = access_token("at-" + std::to_string(i), target, "1700007200");
    }
    const json doc = {{"AccessToken", tokens}};
    EXPECT_TRUE(detail::plan_write_fast(doc.dump(), session_request()).has_value());
}
