// store_plan: what the Redis plugin does with a stored value, what it writes back, and describe().

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "msalcache/store_plan.hpp"

using namespace msalcache;
using fixtures::alice;
using fixtures::bob;
using fixtures::carol;
using fixtures::error_of;
using fixtures::now;

namespace {

constexpr std::int64_t day = 24 * 3600;
using strings = std::vector<std::string>;

partition_id account(const std::string& home) { return {partition_kind::account, home}; }
partition_id app(const std::string& tenant) { return {partition_kind::app_tenant, tenant}; }

std::string alice_and_bob() {
    return fixtures::cache_builder()
        .account(alice).id_token(alice).user_token(alice, now + 3600).refresh_token(alice)
        .account(bob).id_token(bob).user_token(bob, now + 3600).refresh_token(bob)
        .app_token("t", now + 3600)
        .app_metadata()
        .text();
}

write_request request_for(std::vector<partition_id> allowed, partition_kind kind = partition_kind::account) {
    write_request request;
    request.allowed = std::move(allowed);
    request.kind = kind;
    request.expiry.now = now;
    request.created_at = now - day;
    return request;
}

std::set<std::string> field_names(const nlohmann::json& object) {
    std::set<std::string> names;
    for (const auto& item : object.items()) names.insert(item.key());
    return names;
}

}  // namespace

// ================================================================================================================
// plan_read
// ================================================================================================================

TEST(PlanRead, NoOwnerYetKeepsEverything) {
    const auto plan = plan_read(fixtures::msal_node_cache(), {});
    EXPECT_EQ(plan.rewritten, "");
    EXPECT_EQ(plan.home_account_ids, (strings{alice, carol}));
    EXPECT_TRUE(plan.dropped_home_account_ids.empty());
}

TEST(PlanRead, OwnPartitionIsHandedBackUnchanged) {
    const auto text = fixtures::cache_builder().account(alice).user_token(alice, now).refresh_token(alice).text();
    const auto plan = plan_read(text, {account(alice)});
    EXPECT_EQ(plan.rewritten, "");
    EXPECT_EQ(plan.home_account_ids, strings{alice});
}

TEST(PlanRead, ForeignEntriesAreDropped) {
    const auto plan = plan_read(alice_and_bob(), {account(alice)});
    ASSERT_NE(plan.rewritten, "");
    EXPECT_EQ(plan.rewritten.find(bob), std::string::npos);
    EXPECT_EQ(plan.dropped_home_account_ids, (strings{"", bob}));
    EXPECT_EQ(plan.home_account_ids, strings{alice});
    EXPECT_EQ(plan.rewritten, restrict_to(token_cache::parse(alice_and_bob()), {account(alice)}).cache.dump());
}

TEST(PlanRead, RewrittenValueReadsBackClean) {
    const auto first = plan_read(alice_and_bob(), {account(alice)});
    const auto second = plan_read(first.rewritten, {account(alice)});
    EXPECT_EQ(second.rewritten, "");
    EXPECT_TRUE(second.dropped_home_account_ids.empty());
}

TEST(PlanRead, AppTenantPartitionHasNoHomeAccountIds) {
    const auto plan = plan_read(alice_and_bob(), {app("t")});
    EXPECT_TRUE(plan.home_account_ids.empty());
    EXPECT_EQ(plan.dropped_home_account_ids, (strings{alice, bob}));
}

TEST(PlanRead, AppMetadataWithoutCredentialsDoesNotForceARewrite) {
    const auto text = fixtures::cache_builder().user_token(alice, now).app_metadata("another-client").text();
    EXPECT_EQ(plan_read(text, {account(alice)}).rewritten, "");
}

TEST(PlanRead, InvalidStoredValueThrows) {
    EXPECT_EQ(error_of([] { plan_read("", {}); }), "invalid JSON: empty input");
    EXPECT_EQ(error_of([] { plan_read(R"({"a":1,"a":1})", {account(alice)}); }), "duplicate key \"a\" at top level");
    EXPECT_EQ(error_of([] { plan_read(R"({"AccessToken":[]})", {}); }), "AccessToken: expected an object, got array");
    EXPECT_EQ(error_of([] { plan_read("{}", {}, {1, 64}); }), "input is 2 bytes, over the limit of 1");
}

// ================================================================================================================
// plan_write
// ================================================================================================================

TEST(PlanWrite, EndToEnd) {
    // msal serialised a shared cache: Alice's tokens (one access token about to lapse), Bob's, an app token.
    const auto serialized = fixtures::cache_builder()
                                .account(alice).id_token(alice)
                                .user_token(alice, now + 3600)
                                .access_token(alice, fixtures::tenant, std::to_string(now + 120), "mail.read")
                                .refresh_token(alice)
                                .account(bob).id_token(bob).user_token(bob, now + 3600).refresh_token(bob)
                                .app_token("t", now + 3600)
                                .app_metadata()
                                .text();
    const auto plan = plan_write(serialized, request_for({account(alice)}));
    EXPECT_TRUE(plan.has_tokens);
    EXPECT_EQ(plan.ttl_seconds, day);
    EXPECT_EQ(plan.home_account_ids, strings{alice});
    EXPECT_EQ(plan.dropped_home_account_ids, (strings{"", bob}));
    EXPECT_EQ(plan.dropped_entries, 5u);
    EXPECT_EQ(plan.expiry.removed_access_tokens, 1u);
    EXPECT_TRUE(plan.expiry.has_tokens);

    const auto stored = token_cache::parse(plan.cache);
    EXPECT_EQ(stored.dump(), plan.cache);  // compact
    EXPECT_EQ(stored.entries("AccessToken").size(), 1u);
    EXPECT_EQ(stored.entries("RefreshToken").size(), 1u);
    EXPECT_EQ(stored.entries("Account").size(), 1u);
    EXPECT_EQ(stored.entries("AppMetadata").size(), 1u);
    EXPECT_EQ(plan.cache.find(bob), std::string::npos);

    // The next request reads it back as is.
    const auto read = plan_read(plan.cache, {account(alice)});
    EXPECT_EQ(read.rewritten, "");
    EXPECT_EQ(read.home_account_ids, strings{alice});
}

TEST(PlanWrite, MsalNodeCacheIsStoredAsWritten) {
    const auto cache = token_cache::parse(fixtures::msal_node_cache());
    const auto plan = plan_write(fixtures::msal_node_cache(), request_for(partitions_in(cache)));
    EXPECT_EQ(plan.cache, fixtures::msal_node_cache());
    EXPECT_EQ(plan.dropped_entries, 0u);
}

TEST(PlanWrite, AllowedMustNotBeEmpty) {
    EXPECT_EQ(error_of([] { plan_write("{}", request_for({})); }), "plan_write: no allowed partition given");
}

TEST(PlanWrite, InvalidInputThrows) {
    auto request = request_for({account(alice)});
    request.limits.max_depth = 2;
    EXPECT_EQ(error_of([&] { plan_write(alice_and_bob(), request); }),
              R"(nesting deeper than max_depth (2) at Account[")" + std::string(alice) + "-" + fixtures::environment + "-" +
                  fixtures::tenant + "\"]");
}

TEST(PlanWrite, EverythingExpiredMeansDelete) {
    const auto serialized = fixtures::cache_builder().account(alice).user_token(alice, now + 10).text();
    const auto plan = plan_write(serialized, request_for({account(alice)}));
    EXPECT_FALSE(plan.has_tokens);
    EXPECT_EQ(plan.cache, "");
    EXPECT_EQ(plan.ttl_seconds, 0);
    EXPECT_FALSE(plan.expiry.has_tokens);
    EXPECT_EQ(plan.expiry.removed_accounts, 1u);
    EXPECT_TRUE(plan.home_account_ids.empty());
}

TEST(PlanWrite, OnlyForeignDataMeansDelete) {
    const auto plan = plan_write(alice_and_bob(), request_for({account(carol)}));
    EXPECT_FALSE(plan.has_tokens);
    EXPECT_EQ(plan.cache, "");
    EXPECT_EQ(plan.dropped_home_account_ids, (strings{"", alice, bob}));
}

TEST(PlanWrite, PastTheAbsoluteLifetimeMeansDelete) {
    auto request = request_for({account(alice)});
    request.created_at = now - 15 * day;
    const auto plan = plan_write(alice_and_bob(), request);
    EXPECT_TRUE(plan.expiry.has_tokens);
    EXPECT_FALSE(plan.has_tokens);  // a TTL of 0 cannot be stored
    EXPECT_EQ(plan.ttl_seconds, 0);
    EXPECT_EQ(plan.cache, "");
}

TEST(PlanWrite, NearTheAbsoluteLifetime) {
    auto request = request_for({account(alice)});
    request.created_at = now - 14 * day + 77;
    EXPECT_EQ(plan_write(alice_and_bob(), request).ttl_seconds, 77);
}

TEST(PlanWrite, AppTenantLivesUntilItsToken) {
    const auto plan = plan_write(alice_and_bob(), request_for({app("t")}, partition_kind::app_tenant));
    EXPECT_TRUE(plan.has_tokens);
    EXPECT_EQ(plan.ttl_seconds, 3600);
    EXPECT_TRUE(plan.home_account_ids.empty());
}

TEST(PlanWrite, CustomSkewAndPolicy) {
    auto request = request_for({account(alice)});
    request.expiry.skew_seconds = 0;
    request.ttl = {600, 3600};
    const auto serialized = fixtures::cache_builder().user_token(alice, now + 10).text();
    const auto plan = plan_write(serialized, request);  // skew 0 keeps the token, the 1 h lifetime is over
    EXPECT_TRUE(plan.expiry.has_tokens);
    EXPECT_EQ(plan.ttl_seconds, 0);
    request.created_at = now;
    EXPECT_EQ(plan_write(serialized, request).ttl_seconds, 600);
}

// ================================================================================================================
// describe
// ================================================================================================================

TEST(Describe, Shape) {
    const auto description = nlohmann::ordered_json::parse(describe(token_cache::parse(fixtures::msal_node_cache())));
    EXPECT_EQ(field_names(description), (std::set<std::string>{"accounts", "tokens", "bytes"}));
    ASSERT_EQ(description["accounts"].size(), 2u);
    EXPECT_EQ(description["accounts"][0],
              nlohmann::ordered_json({{"home_account_id", alice}, {"username", "zoe@contoso.com"},
                                      {"environment", fixtures::environment}, {"realm", fixtures::tenant}}));
    ASSERT_EQ(description["tokens"].size(), 6u);
    std::vector<std::string> kinds;
    for (const auto& token : description["tokens"]) {
        kinds.push_back(token["kind"]);
        EXPECT_EQ(field_names(token), (std::set<std::string>{"kind", "home_account_id", "realm", "client_id", "target",
                                                             "expires_on", "cached_at", "secret_bytes"}));
    }
    EXPECT_EQ(kinds, (strings{"AccessToken", "AccessToken", "AccessToken", "RefreshToken", "RefreshToken", "IdToken"}));
    EXPECT_EQ(description["bytes"], fixtures::msal_node_cache().size());
}

TEST(Describe, TokenFields) {
    const auto description = nlohmann::json::parse(describe(token_cache::parse(fixtures::msal_node_cache())));
    const auto& app_token = description["tokens"][1];
    EXPECT_EQ(app_token["home_account_id"], "");
    EXPECT_EQ(app_token["realm"], fixtures::tenant);
    EXPECT_EQ(app_token["client_id"], fixtures::client);
    EXPECT_EQ(app_token["target"], "https://graph.microsoft.com/.default");
    EXPECT_EQ(app_token["expires_on"], 1700003599);  // numbers, whatever the cache held
    EXPECT_EQ(description["tokens"][0]["expires_on"], 1700003599);
    EXPECT_EQ(app_token["cached_at"], 1700000000);
    EXPECT_EQ(app_token["secret_bytes"], 9);  // "app-token"
    const auto& refresh = description["tokens"][3];
    EXPECT_TRUE(refresh["expires_on"].is_null());
    EXPECT_TRUE(refresh["cached_at"].is_null());
    EXPECT_EQ(refresh["realm"], "");
}

TEST(Describe, SecretBytesCountsUtf8Bytes) {
    auto cache = fixtures::cache_builder().refresh_token(alice).build();
    (*cache.mutable_entries("RefreshToken").begin())["secret"] = "\xc3\xa9\xf0\x9f\x98\x80";
    EXPECT_EQ(nlohmann::json::parse(describe(cache))["tokens"][0]["secret_bytes"], 6);
}

TEST(Describe, NeverShowsSecretsOrUnlistedFields) {
    const auto text = describe(token_cache::parse(fixtures::msal_node_cache()));
    for (const char* hidden : {"eyJhbGciOiJSUzI1NiJ9", "sig-alice", "app-token", "obo-token", "0.ARoA-refresh",
                               "eyJ1aWQiOiJ1In0",             // client_info
                               "Zo\xc3\xab", "Carol",          // name
                               "xms_cc", "tenantId",           // additionalCacheKeyComponents, tenantProfiles
                               fixtures::assertion_hash,       // userAssertionHash
                               "MSSTS", "Bearer", "1700007199", "X-Unknown-Section", "line1", "family"}) {
        EXPECT_EQ(text.find(hidden), std::string::npos) << hidden;
    }
}

TEST(Describe, MalformedTimestampSetInPlaceIsNull) {
    auto cache = fixtures::cache_builder().user_token(alice, now).build();
    (*cache.mutable_entries("AccessToken").begin())["expires_on"] = "soon";
    EXPECT_TRUE(nlohmann::json::parse(describe(cache))["tokens"][0]["expires_on"].is_null());
}

TEST(Describe, EmptyCache) { EXPECT_EQ(describe(token_cache()), R"({"accounts":[],"tokens":[],"bytes":2})"); }
