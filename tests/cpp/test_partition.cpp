// partition: ids, routing of entries, restrict_to, split and merge.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fixtures.hpp"
#include "msalcache/partition.hpp"

using namespace msalcache;
using fixtures::alice;
using fixtures::bob;
using fixtures::carol;
using fixtures::error_of;
using fixtures::keys_of;
using fixtures::now;

namespace {

const std::string bob_realm = "9188040d-6c67-4c5b-b112-36a304b66dad";
const std::string tenant_1 = "11111111-aaaa-4bbb-8ccc-dddddddddddd";
const std::string tenant_2 = "22222222-aaaa-4bbb-8ccc-dddddddddddd";
const std::string tenant_3 = "33333333-aaaa-4bbb-8ccc-dddddddddddd";
const std::string daemon_client = "99999999-0000-4000-8000-000000000009";
const std::string hash = fixtures::assertion_hash;

partition_id account(const std::string& home) { return {partition_kind::account, home}; }
partition_id app(const std::string& tenant) { return {partition_kind::app_tenant, tenant}; }
partition_id obo(const std::string& value) { return {partition_kind::assertion, value}; }

// Two signed-in users, client-credential tokens for three tenants (one from a second client) and one on-behalf-of
// token for Bob, plus a section no MSAL library defines.
token_cache two_users_three_tenants_one_assertion() {
    return fixtures::cache_builder()
        .account(alice)
        .id_token(alice)
        .user_token(alice, now + 3600)
        .refresh_token(alice)
        .account(bob, bob_realm)
        .id_token(bob, bob_realm)
        .access_token(bob, bob_realm, std::to_string(now + 3600))
        .refresh_token(bob)
        .app_token(tenant_1, now + 3600)
        .app_token(tenant_2, now + 1800)
        .app_token(tenant_3, now + 3600, daemon_client)
        .obo_token(bob, hash, now + 3600)
        .app_metadata()
        .app_metadata(daemon_client)
        .section("Other", {{"schema", 1}})
        .build();
}

// The home_account_id (or, for app tokens, realm) of every credential in a partition.
std::vector<std::string> owners(const token_cache& cache, const std::string& section_name) {
    std::vector<std::string> out;
    for (const auto& entry : cache.entries(section_name)) {
        const auto home = string_field(entry, "home_account_id");
        out.emplace_back(home.empty() ? "app:" + std::string(string_field(entry, "realm")) : std::string(home));
    }
    return out;
}

using strings = std::vector<std::string>;

}  // namespace

// ================================================================================================================
// partition_id
// ================================================================================================================

TEST(PartitionId, ToString) {
    EXPECT_EQ(account(alice).to_string(), std::string("account:") + alice);
    EXPECT_EQ(app(tenant_1).to_string(), "app:" + tenant_1);
    EXPECT_EQ(obo(hash).to_string(), "obo:" + hash);
}

TEST(PartitionId, FromStringRoundTrips) {
    for (const auto& id : {account(alice), app(tenant_1), obo(hash), obo("a:b:c"), app("")}) {
        EXPECT_EQ(partition_id::from_string(id.to_string()), id) << id.to_string();
    }
}

TEST(PartitionId, FromStringRejectsUnknownPrefixes) {
    for (const char* text : {"", "account", "user:x", "Account:x", " app:x", "tenant:x"}) {
        EXPECT_EQ(error_of([&] { partition_id::from_string(text); }),
                  "partition id " + std::string(json(text).dump()) + ": expected a prefix account:, app: or obo:");
    }
}

TEST(PartitionId, Ordering) {
    EXPECT_LT(account("z"), app("a"));
    EXPECT_LT(app("z"), obo("a"));
    EXPECT_LT(account("a"), account("b"));
    EXPECT_FALSE(account("a") < account("a"));
}

// ================================================================================================================
// partition_of_credential
// ================================================================================================================

TEST(PartitionOfCredential, Precedence) {
    EXPECT_EQ(partition_of_credential({{"home_account_id", "h"}, {"realm", "t"}}), account("h"));
    EXPECT_EQ(partition_of_credential({{"home_account_id", ""}, {"realm", "t"}}), app("t"));
    EXPECT_EQ(partition_of_credential({{"home_account_id", "h"}, {"realm", "t"}, {"userAssertionHash", "x"}}), obo("x"));
    EXPECT_EQ(partition_of_credential({{"home_account_id", ""}, {"realm", "t"}, {"userAssertionHash", "x"}}), obo("x"));
    EXPECT_EQ(partition_of_credential({{"home_account_id", "h"}, {"userAssertionHash", ""}}), account("h"));
}

TEST(PartitionOfCredential, ReadsFieldsNeverTheKey) {
    // A key is only a label: the fields decide, even when the key names someone else.
    const auto cache = token_cache::parse(std::string(R"({"AccessToken":{")") + alice +
                                          R"(-login.microsoftonline.com-accesstoken-c-t-s-":{"home_account_id":")" + bob +
                                          R"(","environment":"e","credential_type":"AccessToken","client_id":"c",)"
                                          R"("secret":"s","realm":"t","target":"s","cached_at":"1","expires_on":"2"}}})");
    EXPECT_EQ(partitions_in(cache), std::vector<partition_id>{account(bob)});
    EXPECT_EQ(restrict_to(cache, {account(alice)}).dropped_home_account_ids, strings{bob});
}

// ================================================================================================================
// partitions_in
// ================================================================================================================

TEST(PartitionsIn, SortedAndDistinct) {
    const std::vector<partition_id> expected = {account(alice), account(bob), app(tenant_1), app(tenant_2),
                                                app(tenant_3), obo(hash)};
    EXPECT_EQ(partitions_in(two_users_three_tenants_one_assertion()), expected);
}

TEST(PartitionsIn, MsalNodeCache) {
    const auto cache = token_cache::parse(fixtures::msal_node_cache());
    const std::vector<partition_id> expected = {account(alice), account(carol), app(fixtures::tenant), obo(hash)};
    EXPECT_EQ(partitions_in(cache), expected);
}

TEST(PartitionsIn, AccountWithoutCredentials) {
    EXPECT_EQ(partitions_in(fixtures::cache_builder().account(carol).build()), std::vector<partition_id>{account(carol)});
}

TEST(PartitionsIn, EmptyCache) {
    EXPECT_TRUE(partitions_in(token_cache()).empty());
    EXPECT_TRUE(partitions_in(fixtures::cache_builder().app_metadata().section("Other", {{"x", {}}}).build()).empty());
}

// ================================================================================================================
// restrict_to
// ================================================================================================================

TEST(RestrictTo, DropsAForeignAccountAndReportsIt) {
    const auto cache = fixtures::cache_builder()
                           .account(alice).id_token(alice).user_token(alice, now + 3600).refresh_token(alice)
                           .account(bob).id_token(bob).user_token(bob, now + 3600).refresh_token(bob)
                           .app_metadata()
                           .build();
    const auto result = restrict_to(cache, {account(alice)});
    EXPECT_EQ(result.dropped_home_account_ids, strings{bob});
    EXPECT_EQ(result.dropped_entries, 4u);
    for (const char* name : {"Account", "IdToken", "AccessToken", "RefreshToken"}) {
        EXPECT_EQ(owners(result.cache, name), strings{alice}) << name;
    }
    EXPECT_EQ(result.cache.entries("AppMetadata").size(), 1u);
    EXPECT_EQ(result.cache.dump().find(bob), std::string::npos);
}

TEST(RestrictTo, NothingToDrop) {
    const auto cache = token_cache::parse(fixtures::msal_node_cache());
    const auto result = restrict_to(cache, partitions_in(cache));
    EXPECT_EQ(result.dropped_entries, 0u);
    EXPECT_TRUE(result.dropped_home_account_ids.empty());
    EXPECT_EQ(result.cache.dump(), fixtures::msal_node_cache());  // same order, same unknown data
}

TEST(RestrictTo, AppTokensAreReportedAsAnEmptyHomeId) {
    const auto result = restrict_to(two_users_three_tenants_one_assertion(), {account(alice)});
    EXPECT_EQ(result.dropped_home_account_ids, (strings{"", bob}));
    // Bob: Account, IdToken, AccessToken, RefreshToken, on-behalf-of AccessToken; three app tokens.
    EXPECT_EQ(result.dropped_entries, 8u);
}

TEST(RestrictTo, KeepsOrderOfSectionsAndEntries) {
    const auto cache = token_cache::parse(
        fixtures::cache_builder().section("First", 1).user_token(carol, now).user_token(alice, now)
            .user_token(bob, now).access_token(alice, fixtures::tenant, std::to_string(now), "mail.read").text());
    const auto result = restrict_to(cache, {account(alice), account(carol)});
    EXPECT_EQ(owners(result.cache, "AccessToken"), (strings{carol, alice, alice}));
    const auto dumped = result.cache.dump();
    EXPECT_EQ(dumped.rfind(R"({"Account":{},"IdToken":{},"AccessToken":{)", 0), 0u);
    EXPECT_NE(dumped.find(R"(,"First":1})"), std::string::npos);
}

TEST(RestrictTo, AppMetadataFollowsTheKeptCredentials) {
    const auto cache = two_users_three_tenants_one_assertion();
    const auto daemon = restrict_to(cache, {app(tenant_3)});
    EXPECT_EQ(keys_of(daemon.cache, "AppMetadata"),
              strings{"appmetadata-" + std::string(fixtures::environment) + "-" + daemon_client});
    const auto user = restrict_to(cache, {account(alice)});
    EXPECT_EQ(keys_of(user.cache, "AppMetadata"),
              strings{"appmetadata-" + std::string(fixtures::environment) + "-" + fixtures::client});
    // Not counted as dropped: app metadata holds no user data.
    EXPECT_EQ(daemon.dropped_entries, 11u);
}

TEST(RestrictTo, AppTenant) {
    const auto result = restrict_to(two_users_three_tenants_one_assertion(), {app(tenant_2)});
    EXPECT_EQ(owners(result.cache, "AccessToken"), strings{"app:" + tenant_2});
    EXPECT_TRUE(result.cache.entries("Account").empty());
    EXPECT_TRUE(result.cache.entries("RefreshToken").empty());
}

TEST(RestrictTo, AssertionKeepsTheUsersAccountAndIdToken) {
    const auto result = restrict_to(two_users_three_tenants_one_assertion(), {obo(hash)});
    EXPECT_EQ(owners(result.cache, "Account"), strings{bob});
    EXPECT_EQ(owners(result.cache, "IdToken"), strings{bob});
    ASSERT_EQ(result.cache.entries("AccessToken").size(), 1u);
    EXPECT_EQ(string_field(*result.cache.entries("AccessToken").begin(), "userAssertionHash"), hash);
    // Bob's own tokens stay in his account partition.
    EXPECT_TRUE(result.cache.entries("RefreshToken").empty());
    EXPECT_EQ(result.dropped_home_account_ids, (strings{"", alice, bob}));
}

TEST(RestrictTo, AssertionAndMsalNode7RefreshTokens) {
    // msal-node 7 does not serialise a refresh token's userAssertionHash: Carol's refresh token, written during
    // her on-behalf-of call, belongs to account(carol), not to the assertion partition.
    const auto cache = token_cache::parse(fixtures::msal_node_cache());
    const auto result = restrict_to(cache, {obo(hash)});
    EXPECT_EQ(owners(result.cache, "AccessToken"), strings{carol});
    EXPECT_TRUE(result.cache.entries("RefreshToken").empty());
    EXPECT_EQ(owners(result.cache, "Account"), strings{carol});
    EXPECT_TRUE(result.cache.entries("IdToken").empty());  // msal wrote none for Carol
    EXPECT_EQ(result.dropped_home_account_ids, (strings{"", alice, carol}));
}

TEST(RestrictTo, AssertionRefreshTokenWithHashFollowsTheAssertion) {
    // The two refresh tokens are of two clients: msal-node 7 keys them without the hash, so one client's would collide.
    const auto cache = fixtures::cache_builder().account(carol).obo_token(carol, hash, now + 60)
                           .refresh_token(carol, std::nullopt, hash).refresh_token(carol, std::nullopt, "", daemon_client)
                           .build();
    const auto result = restrict_to(cache, {obo(hash)});
    ASSERT_EQ(result.cache.entries("RefreshToken").size(), 1u);
    EXPECT_EQ(string_field(*result.cache.entries("RefreshToken").begin(), "userAssertionHash"), hash);
    EXPECT_EQ(result.dropped_entries, 1u);
}

TEST(RestrictTo, IdTokenWithAnAssertionHashBelongsToBoth) {
    auto builder = fixtures::cache_builder().account(carol).obo_token(carol, hash, now + 60);
    auto cache = builder.build();
    cache.mutable_entries("IdToken")["id"] = {{"home_account_id", carol}, {"environment", "e"},
                                              {"credential_type", "IdToken"}, {"client_id", "c"},
                                              {"secret", "s"}, {"realm", "t"}, {"userAssertionHash", hash}};
    EXPECT_EQ(restrict_to(cache, {obo(hash)}).cache.entries("IdToken").size(), 1u);
    EXPECT_EQ(restrict_to(cache, {account(carol)}).cache.entries("IdToken").size(), 1u);
    EXPECT_EQ(partitions_in(cache), (std::vector<partition_id>{account(carol), obo(hash)}));
}

TEST(RestrictTo, SeveralAllowedPartitions) {
    const auto result = restrict_to(two_users_three_tenants_one_assertion(), {app(tenant_1), account(alice), app(tenant_1)});
    EXPECT_EQ(owners(result.cache, "AccessToken"), (strings{alice, "app:" + tenant_1}));
    EXPECT_EQ(result.dropped_home_account_ids, (strings{"", bob}));
}

TEST(RestrictTo, NothingAllowedKeepsOnlyUnknownSections) {
    const auto result = restrict_to(two_users_three_tenants_one_assertion(), {});
    EXPECT_TRUE(result.cache.empty_of_entries());
    EXPECT_EQ(result.cache.document()["Other"], json({{"schema", 1}}));
    EXPECT_EQ(result.dropped_entries, 12u);
}

TEST(RestrictTo, UnknownAccount) {
    const auto result = restrict_to(two_users_three_tenants_one_assertion(), {account("nobody")});
    EXPECT_TRUE(result.cache.empty_of_entries());
}

// ================================================================================================================
// split
// ================================================================================================================

TEST(Split, OnePartitionPerId) {
    const auto cache = two_users_three_tenants_one_assertion();
    const auto parts = split(cache);
    std::vector<partition_id> ids;
    for (const auto& part : parts) ids.push_back(part.first);
    EXPECT_EQ(ids, partitions_in(cache));
}

TEST(Split, ContentsOfEachPartition) {
    const auto parts = split(two_users_three_tenants_one_assertion());
    ASSERT_EQ(parts.size(), 6u);
    const auto& alice_part = parts[0].second;
    EXPECT_EQ(owners(alice_part, "Account"), strings{alice});
    EXPECT_EQ(owners(alice_part, "AccessToken"), strings{alice});
    EXPECT_EQ(owners(alice_part, "RefreshToken"), strings{alice});

    const auto& bob_part = parts[1].second;
    EXPECT_EQ(owners(bob_part, "AccessToken"), strings{bob});
    EXPECT_EQ(string_field(*bob_part.entries("AccessToken").begin(), "userAssertionHash"), "");
    EXPECT_EQ(owners(bob_part, "RefreshToken"), strings{bob});

    for (std::size_t i = 2; i < 5; ++i) {
        EXPECT_EQ(owners(parts[i].second, "AccessToken"), strings{"app:" + parts[i].first.value});
        EXPECT_TRUE(parts[i].second.entries("Account").empty());
        EXPECT_EQ(parts[i].second.entries("AppMetadata").size(), 1u);
    }
    EXPECT_EQ(string_field(*parts[4].second.entries("AppMetadata").begin(), "client_id"), daemon_client);

    const auto& obo_part = parts[5].second;
    EXPECT_EQ(owners(obo_part, "Account"), strings{bob});
    EXPECT_EQ(owners(obo_part, "IdToken"), strings{bob});
    EXPECT_EQ(string_field(*obo_part.entries("AccessToken").begin(), "userAssertionHash"), hash);
    EXPECT_TRUE(obo_part.entries("RefreshToken").empty());
}

TEST(Split, EveryPartitionKeepsAllSectionsAndUnknownOnes) {
    for (const auto& [id, part] : split(two_users_three_tenants_one_assertion())) {
        const auto dumped = part.dump();
        EXPECT_EQ(dumped.rfind(R"({"Account":{)", 0), 0u) << id.to_string();
        EXPECT_EQ(part.document()["Other"], json({{"schema", 1}})) << id.to_string();
        EXPECT_EQ(part.document().size(), 6u) << id.to_string();
    }
}

TEST(Split, SameAsRestrictToEachPartition) {
    for (const auto& cache : {two_users_three_tenants_one_assertion(), token_cache::parse(fixtures::msal_node_cache())}) {
        for (const auto& [id, part] : split(cache)) {
            EXPECT_EQ(part.dump(), restrict_to(cache, {id}).cache.dump()) << id.to_string();
        }
    }
}

TEST(Split, MergeOfSplitEqualsTheOriginal) {
    for (const auto& cache : {two_users_three_tenants_one_assertion(), token_cache::parse(fixtures::msal_node_cache())}) {
        std::vector<token_cache> parts;
        for (auto& part : split(cache)) parts.push_back(std::move(part.second));
        EXPECT_EQ(fixtures::unordered(merge(parts)), fixtures::unordered(cache));
    }
}

TEST(Split, NoPartitionHoldsAnotherUsersSecret) {
    const auto cache = two_users_three_tenants_one_assertion();
    for (const auto& [id, part] : split(cache)) {
        for (const char* name : {"AccessToken", "RefreshToken"}) {
            for (const auto& entry : part.entries(name)) EXPECT_EQ(partition_of_credential(entry), id) << name;
        }
    }
}

TEST(Split, EmptyCacheHasNoPartitions) { EXPECT_TRUE(split(token_cache()).empty()); }

// ================================================================================================================
// merge
// ================================================================================================================

TEST(Merge, SectionsInCanonicalOrderThenUnknownInFirstSeenOrder) {
    const auto a = token_cache::parse(R"({"Zed":1,"AppMetadata":{},"AccessToken":{},"Account":{}})");
    const auto b = token_cache::parse(R"({"Yak":2,"RefreshToken":{},"Zed":3,"IdToken":{}})");
    EXPECT_EQ(merge({a, b}).dump(),
              R"({"Account":{},"IdToken":{},"AccessToken":{},"RefreshToken":{},"AppMetadata":{},"Zed":1,"Yak":2})");
}

TEST(Merge, SectionsAbsentEverywhereAreOmitted) {
    EXPECT_EQ(merge({token_cache::parse(R"({"AccessToken":{}})")}).dump(), R"({"AccessToken":{}})");
}

TEST(Merge, EntriesInInputOrder) {
    const auto a = fixtures::cache_builder().user_token(alice, now).build();
    const auto b = fixtures::cache_builder().user_token(bob, now).user_token(carol, now).build();
    EXPECT_EQ(owners(merge({a, b}), "AccessToken"), (strings{alice, bob, carol}));
    EXPECT_EQ(owners(merge({b, a}), "AccessToken"), (strings{bob, carol, alice}));
}

TEST(Merge, IdenticalEntriesAreTakenOnce) {
    const auto a = fixtures::cache_builder().account(bob).build();
    EXPECT_EQ(merge({a, a, a}).dump(), a.dump());
}

TEST(Merge, PartitionsThatDisagreeAreAnError) {
    const auto a = fixtures::cache_builder().account(bob).build();
    auto b = a;
    const std::string key = keys_of(a, "Account")[0];
    b.mutable_entries("Account")[key]["username"] = "someone-else@contoso.com";
    EXPECT_EQ(error_of([&] { merge({a, b}); }), "Account[" + json(key).dump() + "]: partitions hold different values");
}

TEST(Merge, UnknownSectionIsTakenOnceFromTheFirstPartition) {
    const auto a = token_cache::parse(R"({"Other":{"v":1}})");
    const auto b = token_cache::parse(R"({"Other":{"v":2}})");
    EXPECT_EQ(merge({a, b}).dump(), R"({"Other":{"v":1}})");
}

TEST(Merge, NothingToMerge) { EXPECT_EQ(merge({}).dump(), "{}"); }
