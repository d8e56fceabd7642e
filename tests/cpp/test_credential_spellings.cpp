// Other libraries' key spellings, and one entry per credential through plan_write and the three-way merge.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../../core/src/cache_index.hpp"
#include "msalcache/credential_keys.hpp"
#include "msalcache/store_plan.hpp"
#include "msalcache/three_way_merge.hpp"
#include "spelling_fixtures.hpp"

using namespace msalcache;
using namespace spelling_fixtures;
using fixtures::keys_of;

namespace {

std::string secret_at(const token_cache& c, const std::string& section, std::size_t i = 0) {
    const json& entries = c.entries(section);
    auto it = entries.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(i));
    return it->at("secret").get<std::string>();
}

write_request request() {
    write_request r;
    r.allowed = {{partition_kind::account, home}};
    r.expiry.now = 1700000000;
    r.created_at = r.expiry.now;
    return r;
}

}  // namespace

// Imitates MSAL Go's v1.0_v1.1_cache.json: Go 1.0 kept the case of the credential type, of "AppMetadata" and of the
// realm in keys; Go 1.1 lowercases. Both spellings of every entry in one cache.
TEST(OtherLibraries, GoMixedCaseKeysCollapse) {
    auto old_account = account("old");
    const json doc = {
        {"Account", {{std::string(home) + "-" + env + "-UTID-1", old_account}, {node7::acct(), account("new")}}},
        {"RefreshToken",
         {{std::string(home) + "-" + env + "-RefreshToken-" + client + "--s2 s1 s3", refresh_token("old", "s2 s1 s3")},
          {python::rt("s2 s1 s3"), refresh_token("new", "s2 s1 s3")}}},
        {"AccessToken",
         {{python::at("s2 s1 s3"), access_token("new", "s2 s1 s3")},
          {std::string(home) + "-" + env + "-AccessToken-" + client + "-" + realm + "-s2 s1 s3",
           access_token("old", "s2 s1 s3", "1700003000")}}},
        {"IdToken", {{std::string(home) + "-" + env + "-IdToken-" + client + "-" + realm + "-", id_token("old")},
                     {python::idt(), id_token("new")}}},
        {"AppMetadata", {{std::string("AppMetadata-") + env + "-" + client, app_metadata("old")},
                         {node7::meta(), app_metadata("new")}}}};
    rekey_report report;
    const auto out = rekey(cache(doc), key_spelling::msal_node, &report);
    EXPECT_EQ(report.collapsed, 5u);
    for (auto section : {"RefreshToken", "AccessToken", "IdToken"}) {
        ASSERT_EQ(out.entries(section).size(), 1u) << section;
        EXPECT_EQ(secret_at(out, section), "new") << section;  // later in the document, or later expiry
    }
    EXPECT_EQ(keys_of(out, "RefreshToken"), std::vector<std::string>{node7::rt(client, "s2 s1 s3")});
    EXPECT_EQ(out.entries("Account").front().at("username"), "new");
    EXPECT_EQ(out.entries("AppMetadata").front().at("family_id"), "new");
    EXPECT_EQ(keys_of(out, "AppMetadata"), std::vector<std::string>{node7::meta()});
}

// Imitates MSAL Java's serialized_cache.json and msal-python: scopes in the request's order, unsorted, no scheme.
TEST(OtherLibraries, JavaSpellingMovesToMsalNodes) {
    const json doc = {{"AccessToken", {{python::at("s2 s1 s3"), access_token("at", "s2 s1 s3")}}},
                      {"RefreshToken", {{python::rt("s2 s1 s3"), refresh_token("rt", "s2 s1 s3")}}},
                      {"IdToken", {{python::idt(), id_token("idt")}}},
                      {"unknownEntity", {{"field1", "1"}, {"field2", "whats"}}}};
    const auto out = rekey(cache(doc), key_spelling::msal_node);
    EXPECT_EQ(keys_of(out, "AccessToken"), std::vector<std::string>{node7::at("s2 s1 s3")});
    EXPECT_EQ(keys_of(out, "IdToken"), std::vector<std::string>{node7::idt()});
    EXPECT_EQ(out.document().at("unknownEntity"), doc.at("unknownEntity"));
}

// Imitates MSAL.NET's CacheFromTheFuture.json: a family refresh token keyed by family id, no target, no scheme; and
// the same credential from msal-node 7 (family key with the scheme segment) and from msal-python (client id).
TEST(OtherLibraries, DotNetFamilyRefreshTokenIsTheSameCredential) {
    const json doc = {{"RefreshToken",
                       {{std::string(home) + "-" + env + "-refreshtoken-1--", refresh_token("dotnet", "", "1")},
                        {node7::rt("1"), refresh_token("node", "", "1")},
                        {python::rt("openid"), refresh_token("python", "openid", "1")}}}};
    rekey_report report;
    const auto out = rekey(cache(doc), key_spelling::msal_node, &report);
    EXPECT_EQ(report.collapsed, 2u);
    EXPECT_EQ(keys_of(out, "RefreshToken"), std::vector<std::string>{node7::rt("1", "openid")});
    EXPECT_EQ(secret_at(out, "RefreshToken"), "python");
}

// Imitates msal-node 2 (msal-common 14): a requestedClaimsHash segment, empty for most tokens, before the scheme.
TEST(OtherLibraries, MsalNode2KeysAreRecognised) {
    auto claims = access_token("claims", "user.read");
    claims["requestedClaimsHash"] = "abc";
    const json doc = {{"AccessToken", {{node7::at("user.read") + "-", access_token("plain", "user.read")},
                                       {node7::at("user.read") + "abc-", claims}}},
                      {"IdToken", {{node7::idt() + "-", id_token("idt")}}},
                      {"RefreshToken", {{node7::rt() + "-", refresh_token("rt")}}}};
    rekey_report report;
    const auto out = rekey(cache(doc), key_spelling::msal_node, &report);
    EXPECT_EQ(report.unrecognised, 0u);
    // msal-node 7 no longer keys requested claims: the two access tokens want one key, so both keep their own.
    EXPECT_EQ(keys_of(out, "AccessToken"),
              (std::vector<std::string>{node7::at("user.read") + "-", node7::at("user.read") + "abc-"}));
    EXPECT_EQ(keys_of(out, "IdToken"), std::vector<std::string>{node7::idt()});
    EXPECT_EQ(keys_of(out, "RefreshToken"), std::vector<std::string>{node7::rt()});
}

TEST(CredentialWrites, PlanWriteStoresOneEntryPerCredential) {
    // msal-python's update of a partition msal-node wrote: its own spelling of the access token and refresh token.
    const json doc = {{"Account", {{node7::acct(), account("a@x")}}},
                      {"IdToken", {{node7::idt(), id_token("idt")}}},
                      {"AccessToken", {{node7::at("user.read openid"), access_token("old", "User.Read openid")},
                                       {python::at("openid user.read"),
                                        access_token("new", "openid user.read", "1700007200")}}},
                      {"RefreshToken", {{node7::rt(), refresh_token("old")},
                                        {python::rt("openid user.read"), refresh_token("new", "openid user.read")}}},
                      {"AppMetadata", json::object()}};
    const auto text = doc.dump();
    EXPECT_FALSE(detail::plan_write_fast(text, request()).has_value());  // the DOM path re-keys
    const auto plan = plan_write(text, request());
    const auto stored = token_cache::parse(plan.cache);
    EXPECT_EQ(keys_of(stored, "AccessToken"), std::vector<std::string>{node7::at("openid user.read")});
    EXPECT_EQ(secret_at(stored, "AccessToken"), "new");
    EXPECT_EQ(keys_of(stored, "RefreshToken"), std::vector<std::string>{node7::rt(client, "openid user.read")});
    EXPECT_EQ(secret_at(stored, "RefreshToken"), "new");
    // What was stored takes the fast path next time, and stays as it is.
    const auto again = detail::plan_write_fast(plan.cache, request());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->cache, plan.cache);
}

TEST(CredentialMerge, SpellingsMeetAcrossBaseMineAndTheirs) {
    // base: what both loaded (msal-node's keys). mine: msal-python refreshed (its keys; the stale entries it read
    // under msal-node's keys are still there). theirs: msal-node refreshed meanwhile.
    const json base = {{"AccessToken", {{node7::at("user.read"), access_token("base", "user.read")}}},
                       {"RefreshToken", {{node7::rt(), refresh_token("base")}}}};
    const json mine = {{"AccessToken", {{node7::at("user.read"), access_token("base", "user.read")},
                                        {python::at("user.read"), access_token("mine", "user.read", "1700007000")}}},
                       {"RefreshToken", {{node7::rt(), refresh_token("base")},
                                         {python::rt("user.read"), refresh_token("mine", "user.read")}}}};
    for (const char* theirs_expiry : {"1700005000", "1700009000"}) {
        const json theirs = {{"AccessToken", {{node7::at("user.read"), access_token("theirs", "user.read",
                                                                                     theirs_expiry)}}},
                             {"RefreshToken", {{node7::rt(), refresh_token("theirs")}}}};
        const auto result = merge_three_way(cache(base), cache(mine), cache(theirs));
        ASSERT_EQ(result.cache.entries("AccessToken").size(), 1u);
        ASSERT_EQ(result.cache.entries("RefreshToken").size(), 1u);
        // Access token: the later expiry. Refresh token: mine, which this request just received.
        const bool theirs_later = std::string(theirs_expiry) == "1700009000";
        EXPECT_EQ(secret_at(result.cache, "AccessToken"), theirs_later ? "theirs" : "mine");
        EXPECT_EQ(secret_at(result.cache, "RefreshToken"), "mine");
        EXPECT_EQ(keys_of(result.cache, "RefreshToken"), std::vector<std::string>{node7::rt(client, "user.read")});
        EXPECT_EQ(keys_of(result.cache, "AccessToken"), std::vector<std::string>{node7::at("user.read")});
        EXPECT_EQ(result.report.conflicts, 2u);
    }
}

TEST(CredentialMerge, RemovalUnderOneSpellingRemovesTheCredential) {
    // msal-python removed the token (under its spelling) that theirs left unchanged under msal-node's.
    const json base = {{"AccessToken", {{node7::at("user.read"), access_token("base", "user.read")}}}};
    const json mine = {{"AccessToken", json::object()}};
    const json theirs = {{"AccessToken", {{python::at("user.read"), access_token("base", "user.read")}}}};
    const auto result = merge_three_way(cache(base), cache(mine), cache(theirs));
    EXPECT_TRUE(result.cache.entries("AccessToken").empty());
    EXPECT_EQ(result.report.removed, 1u);
    // Unrecognised keys merge by key, as before.
    const json odd = {{"AccessToken", {{"odd", access_token("odd", "user.read")}}}};
    const auto kept = merge_three_way(cache({{"AccessToken", json::object()}}), cache(odd), cache(base));
    EXPECT_EQ(keys_of(kept.cache, "AccessToken"), (std::vector<std::string>{node7::at("user.read"), "odd"}));
}

TEST(CredentialMerge, TwoCredentialsUnderOneKeyAreAConflictOnThatKey) {
    // Found by the fuzzer: mine holds, under msal-node's key of theirs' refresh token, an entry whose fields are
    // another credential's (the key spells none of its fields). One key holds one entry, decided as a conflict.
    auto stray = refresh_token("mine");
    stray["home_account_id"] = "someone-else";
    const json mine = {{"RefreshToken", {{node7::rt(), stray}}}};
    const json theirs = {{"RefreshToken", {{node7::rt(), refresh_token("theirs")}}}};
    const json base = {{"RefreshToken", json::object()}};
    const auto forward = merge_three_way(cache(base), cache(mine), cache(theirs));
    const auto backward = merge_three_way(cache(base), cache(theirs), cache(mine));
    EXPECT_EQ(keys_of(forward.cache, "RefreshToken"), std::vector<std::string>{node7::rt()});
    EXPECT_EQ(secret_at(forward.cache, "RefreshToken"), "mine");
    EXPECT_EQ(secret_at(backward.cache, "RefreshToken"), "theirs");  // mine, seen from the other side
    EXPECT_EQ(forward.report.conflicts, 1u);
    EXPECT_EQ(forward.report.key_clashes, 1u);
    EXPECT_EQ(backward.report.key_clashes, 1u);
}
