// expiry: sweeping dead tokens and the partition's time to live.

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "msalcache/expiry.hpp"

using namespace msalcache;
using fixtures::alice;
using fixtures::bob;
using fixtures::carol;
using fixtures::keys_of;
using fixtures::now;

namespace {

constexpr std::int64_t day = 24 * 3600;
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

expiry_options at(std::int64_t time, std::int64_t skew = 300) { return {time, skew}; }

std::vector<std::int64_t> access_token_expiries(const token_cache& cache) {
    std::vector<std::int64_t> out;
    for (const auto& entry : cache.entries("AccessToken")) out.push_back(*epoch_field(entry, "expires_on"));
    return out;
}

using expiries = std::vector<std::int64_t>;

}  // namespace

// ================================================================================================================
// expire: access tokens
// ================================================================================================================

TEST(ExpireAccessTokens, SkewBoundary) {
    auto cache = fixtures::cache_builder()
                     .access_token(alice, fixtures::tenant, std::to_string(now + 299), "a")
                     .access_token(alice, fixtures::tenant, std::to_string(now + 300), "b")
                     .access_token(alice, fixtures::tenant, std::to_string(now + 301), "c")
                     .build();
    const auto report = expire(cache, at(now));
    EXPECT_EQ(report.removed_access_tokens, 2u);
    EXPECT_EQ(access_token_expiries(cache), expiries{now + 301});
    EXPECT_TRUE(report.has_tokens);
}

TEST(ExpireAccessTokens, ZeroSkew) {
    auto cache = fixtures::cache_builder()
                     .access_token(alice, fixtures::tenant, std::to_string(now), "a")
                     .access_token(alice, fixtures::tenant, std::to_string(now + 1), "b")
                     .build();
    EXPECT_EQ(expire(cache, at(now, 0)).removed_access_tokens, 1u);
    EXPECT_EQ(access_token_expiries(cache), expiries{now + 1});
}

TEST(ExpireAccessTokens, NumericTimestampsCountTheSame) {
    auto cache = fixtures::cache_builder()
                     .access_token("", "t1", now + 300, "a")
                     .access_token("", "t2", now + 301, "b")
                     .build();
    EXPECT_EQ(expire(cache, at(now)).removed_access_tokens, 1u);
    ASSERT_EQ(cache.entries("AccessToken").size(), 1u);
    EXPECT_TRUE(cache.entries("AccessToken").begin()->at("expires_on").is_number());  // written back as it came
}

TEST(ExpireAccessTokens, WithoutExpiresOnIsRemoved) {
    // The validator requires expires_on; an entry added in place without one cannot be trusted to be valid.
    auto cache = fixtures::cache_builder().user_token(alice, now + 3600).build();
    cache.mutable_entries("AccessToken").begin()->erase("expires_on");
    EXPECT_EQ(expire(cache, at(now)).removed_access_tokens, 1u);
}

TEST(ExpireAccessTokens, KeepsTheOrderOfWhatRemains) {
    auto cache = fixtures::cache_builder()
                     .access_token(alice, fixtures::tenant, std::to_string(now + 900), "a")
                     .access_token(alice, fixtures::tenant, std::to_string(now), "b")
                     .access_token(alice, fixtures::tenant, std::to_string(now + 700), "c")
                     .access_token(alice, fixtures::tenant, std::to_string(now + 800), "d")
                     .build();
    expire(cache, at(now));
    EXPECT_EQ(access_token_expiries(cache), (expiries{now + 900, now + 700, now + 800}));
}

TEST(ExpireAccessTokens, ExtremeClockValuesDoNotOverflow) {
    auto cache = fixtures::cache_builder()
                     .access_token(alice, fixtures::tenant, "9223372036854775807", "a")
                     .refresh_token(alice, int64_max)
                     .build();
    auto report = expire(cache, at(int64_max, int64_max));
    EXPECT_EQ(report.removed_access_tokens, 1u);
    EXPECT_EQ(report.removed_refresh_tokens, 1u);
    auto other = fixtures::cache_builder().user_token(alice, now).build();
    report = expire(other, at(std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::min()));
    EXPECT_EQ(report.removed_access_tokens, 0u);
}

// ================================================================================================================
// expire: refresh tokens
// ================================================================================================================

TEST(ExpireRefreshTokens, WithoutExpiresOnIsKept) {
    auto cache = fixtures::cache_builder().account(alice).id_token(alice).user_token(alice, now - 1).refresh_token(alice).build();
    const auto report = expire(cache, at(now + 365 * day));
    EXPECT_EQ(report.removed_access_tokens, 1u);
    EXPECT_EQ(report.removed_refresh_tokens, 0u);
    EXPECT_EQ(report.removed_accounts, 0u);
    EXPECT_EQ(report.removed_id_tokens, 0u);
    EXPECT_TRUE(report.has_tokens);
}

TEST(ExpireRefreshTokens, WithExpiresOnHasNoSkew) {
    auto cache = fixtures::cache_builder()
                     .refresh_token(alice, now)
                     .refresh_token(bob, now + 1)
                     .build();
    const auto report = expire(cache, at(now));
    EXPECT_EQ(report.removed_refresh_tokens, 1u);
    EXPECT_EQ(string_field(*cache.entries("RefreshToken").begin(), "home_account_id"), bob);
}

// ================================================================================================================
// expire: orphans and has_tokens
// ================================================================================================================

TEST(ExpireOrphans, AccountAndIdTokenGoWithTheirLastToken) {
    auto cache = fixtures::cache_builder()
                     .account(alice).id_token(alice).user_token(alice, now - 10)
                     .account(bob).id_token(bob).user_token(bob, now + 3600)
                     .build();
    const auto report = expire(cache, at(now));
    EXPECT_EQ(report.removed_access_tokens, 1u);
    EXPECT_EQ(report.removed_id_tokens, 1u);
    EXPECT_EQ(report.removed_accounts, 1u);
    EXPECT_EQ(keys_of(cache, "Account").size(), 1u);
    EXPECT_EQ(string_field(*cache.entries("Account").begin(), "home_account_id"), bob);
    EXPECT_EQ(string_field(*cache.entries("IdToken").begin(), "home_account_id"), bob);
}

TEST(ExpireOrphans, AccountWithoutAnyTokenIsRemoved) {
    auto cache = fixtures::cache_builder().account(carol).id_token(carol).build();
    const auto report = expire(cache, at(now));
    EXPECT_EQ(report.removed_accounts, 1u);
    EXPECT_EQ(report.removed_id_tokens, 1u);
    EXPECT_FALSE(report.has_tokens);
    EXPECT_TRUE(cache.empty_of_entries());
}

TEST(ExpireOrphans, OnBehalfOfTokenKeepsItsUsersAccount) {
    auto cache = fixtures::cache_builder().account(carol).obo_token(carol, fixtures::assertion_hash, now + 3600).build();
    EXPECT_EQ(expire(cache, at(now)).removed_accounts, 0u);
}

TEST(ExpireOrphans, AppMetadataAndUnknownSectionsStay) {
    auto cache = fixtures::cache_builder().app_token("t", now).app_metadata().section("Other", {{"x", 1}}).build();
    const auto report = expire(cache, at(now));
    EXPECT_FALSE(report.has_tokens);
    EXPECT_EQ(cache.entries("AppMetadata").size(), 1u);
    EXPECT_EQ(cache.document()["Other"], json({{"x", 1}}));
}

TEST(ExpireHasTokens, Cases) {
    auto only_refresh = fixtures::cache_builder().refresh_token(alice).build();
    EXPECT_TRUE(expire(only_refresh, at(now)).has_tokens);
    auto only_valid_access = fixtures::cache_builder().user_token(alice, now + 301).build();
    EXPECT_TRUE(expire(only_valid_access, at(now)).has_tokens);
    auto only_expired_access = fixtures::cache_builder().user_token(alice, now + 300).build();
    EXPECT_FALSE(expire(only_expired_access, at(now)).has_tokens);
    token_cache empty;
    EXPECT_FALSE(expire(empty, at(now)).has_tokens);
    EXPECT_EQ(empty.dump(), "{}");  // no section is created
}

TEST(ExpireMsalNodeCache, BeforeAndAfterTheAccessTokensLapse) {
    auto fresh = token_cache::parse(fixtures::msal_node_cache());
    const auto untouched = expire(fresh, at(now));
    EXPECT_EQ(untouched.removed_access_tokens, 0u);
    EXPECT_EQ(fresh.dump(), fixtures::msal_node_cache());

    auto later = token_cache::parse(fixtures::msal_node_cache());
    const auto report = expire(later, at(now + 3599 - 300));
    EXPECT_EQ(report.removed_access_tokens, 3u);
    EXPECT_EQ(report.removed_refresh_tokens, 0u);
    EXPECT_EQ(report.removed_accounts, 0u);  // Alice and Carol keep a refresh token
    EXPECT_TRUE(report.has_tokens);
}

// ================================================================================================================
// partition_ttl
// ================================================================================================================

TEST(PartitionTtl, FreshAccountPartitionGetsTheSlidingWindow) {
    const auto cache = fixtures::cache_builder().account(alice).user_token(alice, now + 3600).refresh_token(alice).build();
    EXPECT_EQ(partition_ttl(cache, partition_kind::account, {}, now, now), day);
    EXPECT_EQ(partition_ttl(cache, partition_kind::assertion, {}, now, now), day);
    EXPECT_EQ(partition_ttl(cache, partition_kind::account, {600, 14 * day}, now, now), 600);
}

TEST(PartitionTtl, AbsoluteLifetimeCaps) {
    const auto cache = fixtures::cache_builder().refresh_token(alice).build();
    EXPECT_EQ(partition_ttl(cache, partition_kind::account, {}, now - 14 * day + 100, now), 100);
    EXPECT_EQ(partition_ttl(cache, partition_kind::account, {}, now - 14 * day + 1, now), 1);
    EXPECT_EQ(partition_ttl(cache, partition_kind::account, {}, now - 14 * day, now), 0);
    EXPECT_EQ(partition_ttl(cache, partition_kind::account, {}, now - 30 * day, now), 0);
    EXPECT_EQ(partition_ttl(cache, partition_kind::account, {}, now + day, now), day);  // clock skew between servers
}

TEST(PartitionTtl, LatestRefreshTokenExpiryCapsWhenEveryOneHasOne) {
    const auto one = fixtures::cache_builder().refresh_token(alice, now + 500).build();
    EXPECT_EQ(partition_ttl(one, partition_kind::account, {}, now, now), 500);
    const auto two = fixtures::cache_builder().refresh_token(alice, now + 500).refresh_token(bob, now + 900).build();
    EXPECT_EQ(partition_ttl(two, partition_kind::account, {}, now, now), 900);
    const auto mixed = fixtures::cache_builder().refresh_token(alice, now + 500).refresh_token(bob).build();
    EXPECT_EQ(partition_ttl(mixed, partition_kind::account, {}, now, now), day);
    const auto past = fixtures::cache_builder().refresh_token(alice, now - 5).build();
    EXPECT_EQ(partition_ttl(past, partition_kind::account, {}, now, now), 0);
    const auto far = fixtures::cache_builder().refresh_token(alice, now + 90 * day).build();
    EXPECT_EQ(partition_ttl(far, partition_kind::account, {}, now, now), day);
}

TEST(PartitionTtl, AccessTokensAloneDoNotCapAnAccountPartition) {
    const auto cache = fixtures::cache_builder().user_token(alice, now + 600).build();
    EXPECT_EQ(partition_ttl(cache, partition_kind::account, {}, now, now), day);
}

TEST(PartitionTtl, NoTokensMeansZero) {
    const auto accounts_only = fixtures::cache_builder().account(alice).id_token(alice).app_metadata().build();
    EXPECT_EQ(partition_ttl(accounts_only, partition_kind::account, {}, now, now), 0);
    EXPECT_EQ(partition_ttl(accounts_only, partition_kind::assertion, {}, now, now), 0);
    EXPECT_EQ(partition_ttl(accounts_only, partition_kind::app_tenant, {}, now, now), 0);
    EXPECT_EQ(partition_ttl(token_cache(), partition_kind::account, {}, now, now), 0);
}

TEST(PartitionTtl, AppTenantLivesExactlyUntilItsLatestToken) {
    const auto cache = fixtures::cache_builder().app_token("t", now + 1800).app_token("t", now + 3599, "other").build();
    EXPECT_EQ(partition_ttl(cache, partition_kind::app_tenant, {}, now, now), 3599);
    // The policy does not apply: not the sliding window, not the absolute lifetime.
    EXPECT_EQ(partition_ttl(cache, partition_kind::app_tenant, {60, 60}, now - 30 * day, now), 3599);
}

TEST(PartitionTtl, AppTenantWithNumericExpiry) {
    const auto cache = fixtures::cache_builder().access_token("", "t", now + 42, "s").build();
    EXPECT_EQ(partition_ttl(cache, partition_kind::app_tenant, {}, now, now), 42);
}

TEST(PartitionTtl, AppTenantWithNothingValid) {
    const auto expired = fixtures::cache_builder().app_token("t", now - 1).app_token("t", now, "other").build();
    EXPECT_EQ(partition_ttl(expired, partition_kind::app_tenant, {}, now, now), 0);
    const auto refresh_only = fixtures::cache_builder().refresh_token("").build();
    EXPECT_EQ(partition_ttl(refresh_only, partition_kind::app_tenant, {}, now, now), 0);
}

TEST(PartitionTtl, ExtremeValuesDoNotOverflow) {
    const auto cache = fixtures::cache_builder().refresh_token(alice, int64_max).build();
    EXPECT_EQ(partition_ttl(cache, partition_kind::account, {int64_max, int64_max}, int64_max, 0), int64_max);
    EXPECT_EQ(partition_ttl(cache, partition_kind::account, {}, 0, std::numeric_limits<std::int64_t>::min()), day);
    const auto app = fixtures::cache_builder().app_token("t", int64_max).build();
    EXPECT_EQ(partition_ttl(app, partition_kind::app_tenant, {}, 0, std::numeric_limits<std::int64_t>::min()), int64_max);
}
