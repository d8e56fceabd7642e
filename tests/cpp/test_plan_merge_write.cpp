// plan_merge_write (merge -> restrict -> sweep -> TTL), absent inputs, hostile input and large partitions.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "merge_fixtures.hpp"
#include "msalcache/store_plan.hpp"

using namespace msalcache;
using namespace merge_fixtures;
using fixtures::alice;
using fixtures::bob;
using fixtures::error_of;
using fixtures::now;

namespace {

constexpr std::int64_t day = 24 * 3600;
using strings = std::vector<std::string>;

partition_id account_id(const std::string& home) { return {partition_kind::account, home}; }
partition_id app_id(const std::string& tenant) { return {partition_kind::app_tenant, tenant}; }

write_request request_for(std::vector<partition_id> allowed, partition_kind kind = partition_kind::account) {
    write_request request;
    request.allowed = std::move(allowed);
    request.kind = kind;
    request.expiry.now = now;
    request.created_at = now - day;
    return request;
}

std::string alice_cache(std::int64_t expires_on = now + 3600) {
    return fixtures::cache_builder().account(alice).id_token(alice).user_token(alice, expires_on).refresh_token(alice)
        .app_metadata().text();
}

// Alice's cache with one more access token, for another scope.
std::string with_scope(const std::string& text, const std::string& scope, const json& expires_on) {
    json doc = json::parse(text);
    json entry = access_token("token-for-" + scope, expires_on);
    entry["target"] = scope;
    doc["AccessToken"][fixtures::credential_key(entry)] = entry;
    return doc.dump();
}

std::size_t entry_count(const std::string& cache_text, const std::string& section_name) {
    return json::parse(cache_text)[section_name].size();
}

}  // namespace

// ================================================================================================================
// plan_merge_write
// ================================================================================================================

TEST(PlanMergeWrite, NoBaseNoTheirsIsPlanWrite) {
    const auto mine = fixtures::cache_builder().account(alice).user_token(alice, now + 3600).refresh_token(alice)
                          .account(bob).user_token(bob, now + 3600).text();
    const auto request = request_for({account_id(alice)});
    merge_report report;
    const auto merged = plan_merge_write("", mine, "", request, &report);
    const auto plain = plan_write(mine, request);
    EXPECT_EQ(merged.cache, plain.cache);
    EXPECT_EQ(merged.ttl_seconds, plain.ttl_seconds);
    EXPECT_EQ(merged.dropped_home_account_ids, plain.dropped_home_account_ids);
    EXPECT_EQ(counts(report), "mine 5, theirs 0, conflicts 0, removed 0");  // every entry of mine, Bob's too
}

TEST(PlanMergeWrite, BothServersAddedTokensKeepsBoth) {
    const auto base = alice_cache();
    const auto mine = with_scope(base, "mail.read", std::to_string(now + 3600));
    const auto theirs = with_scope(base, "files.read", std::to_string(now + 3600));
    merge_report report;
    const auto plan = plan_merge_write(base, mine, theirs, request_for({account_id(alice)}), &report);
    ASSERT_TRUE(plan.has_tokens);
    EXPECT_EQ(entry_count(plan.cache, "AccessToken"), 3u);
    EXPECT_EQ(counts(report), "mine 1, theirs 1, conflicts 0, removed 0");
    // Without a base (the partition was new to both), the additions are a union as well.
    const auto without_base = plan_merge_write("", mine, theirs, request_for({account_id(alice)}));
    EXPECT_EQ(entry_count(without_base.cache, "AccessToken"), 3u);
}

TEST(PlanMergeWrite, ForeignAccountInTheirsIsDropped) {
    const auto base = alice_cache();
    json theirs = json::parse(base);
    const json foreign =
        json::parse(fixtures::cache_builder().account(bob).user_token(bob, now + 3600).refresh_token(bob).text());
    for (const auto& name : {"Account", "AccessToken", "RefreshToken"}) {
        for (const auto& [key, entry] : foreign[name].items()) theirs[name][key] = entry;
    }
    const auto plan = plan_merge_write(base, base, theirs.dump(), request_for({account_id(alice)}));
    EXPECT_EQ(plan.dropped_home_account_ids, strings{bob});
    EXPECT_EQ(plan.dropped_entries, 3u);
    EXPECT_EQ(plan.home_account_ids, strings{alice});
    EXPECT_EQ(plan.cache.find(bob), std::string::npos);
}

TEST(PlanMergeWrite, ExpiredAccessTokenFromTheirsIsSwept) {
    const auto base = alice_cache();
    const auto theirs = with_scope(base, "stale.read", std::to_string(now - 10));
    const auto plan = plan_merge_write(base, base, theirs, request_for({account_id(alice)}));
    EXPECT_EQ(plan.expiry.removed_access_tokens, 1u);
    EXPECT_EQ(entry_count(plan.cache, "AccessToken"), 1u);
    EXPECT_EQ(plan.cache.find("stale.read"), std::string::npos);
}

TEST(PlanMergeWrite, TtlFollowsTheMergedCache) {
    // An account partition gets the sliding window; past the absolute lifetime it is deleted.
    auto request = request_for({account_id(alice)});
    request.ttl.sliding_seconds = 600;
    EXPECT_EQ(plan_merge_write("", alice_cache(), "", request).ttl_seconds, 600);
    request.created_at = now - request.ttl.absolute_seconds;
    const auto expired = plan_merge_write("", alice_cache(), alice_cache(), request);
    EXPECT_FALSE(expired.has_tokens);
    EXPECT_EQ(expired.cache, "");
    // An app partition lives until the latest access token of the merged cache: theirs' here.
    const std::string tenant = "t1";
    const auto base = fixtures::cache_builder().app_token(tenant, now + 100).text();
    const auto theirs = fixtures::cache_builder().app_token(tenant, now + 100)
                            .access_token("", tenant, std::to_string(now + 5000), "other/.default").text();
    const auto plan = plan_merge_write(base, base, theirs, request_for({app_id(tenant)}, partition_kind::app_tenant));
    EXPECT_EQ(plan.ttl_seconds, 5000);
}

TEST(PlanMergeWrite, BothServersRefreshedTheSameTokenKeepsTheLaterOne) {
    const auto base = alice_cache(now + 100);
    const auto mine = alice_cache(now + 3000);  // the same access token key on all three, expiring differently
    const auto theirs = alice_cache(now + 4000);
    merge_report report;
    const auto plan = plan_merge_write(base, mine, theirs, request_for({account_id(alice)}), &report);
    EXPECT_EQ(counts(report), "mine 0, theirs 1, conflicts 1, removed 0");
    EXPECT_NE(plan.cache.find(std::to_string(now + 4000)), std::string::npos);
    EXPECT_EQ(plan.cache.find(std::to_string(now + 3000)), std::string::npos);
}

TEST(PlanMergeWrite, ReportIsOptionalAndAllowedIsRequired) {
    EXPECT_NO_THROW(plan_merge_write("", alice_cache(), "", request_for({account_id(alice)})));
    EXPECT_EQ(error_of([] { plan_merge_write("", alice_cache(), "", request_for({})); }),
              "plan_merge_write: no allowed partition given");
}

// ================================================================================================================
// hostile input
// ================================================================================================================

TEST(PlanMergeWriteErrors, EachInputIsNamed) {
    const auto good = alice_cache();
    const auto request = request_for({account_id(alice)});
    const auto error = [&](const std::string& base, const std::string& mine, const std::string& theirs) {
        return error_of([&] { plan_merge_write(base, mine, theirs, request); });
    };
    EXPECT_EQ(error("{", good, good), "base: invalid JSON at byte 1: unexpected end of input; expected string literal");
    EXPECT_EQ(error(good, "[]", good), "mine: top level: expected an object, got array");
    EXPECT_EQ(error(good, "", good), "mine: invalid JSON: empty input");
    EXPECT_EQ(error(good, good, "{} x"), "theirs: invalid JSON at byte 3: invalid literal");
    EXPECT_EQ(error(good, good, R"({"a":1,"a":1})"), "theirs: duplicate key \"a\" at top level");
    EXPECT_EQ(error(R"({"AccessToken":{"k":{"x":1,"x":2}}})", good, good),
              "base: duplicate key \"x\" in AccessToken[\"k\"]");
    EXPECT_EQ(error(good, R"({"Account":{"k":{}}})", good),
              "mine: Account[\"k\"].home_account_id: missing (expected a string)");
    EXPECT_EQ(error(good, good, "\x7b\x22\xff\x22\x3a\x31\x7d").rfind("theirs: ", 0), 0u);
    // With several invalid inputs the first in base, mine, theirs order is named.
    EXPECT_EQ(error("x", "y", "z").rfind("base: ", 0), 0u);
    EXPECT_EQ(error(good, "y", "z").rfind("mine: ", 0), 0u);
}

TEST(PlanMergeWriteErrors, DeepNestingAndSizeLimits) {
    const auto good = alice_cache();
    const std::string deep = R"({"X":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
    for (int which = 0; which < 3; ++which) {
        std::vector<std::string> inputs = {good, good, good};
        inputs[which] = deep;
        const auto message =
            error_of([&] { plan_merge_write(inputs[0], inputs[1], inputs[2], request_for({account_id(alice)})); });
        EXPECT_CONTAINS(message, "nesting deeper than max_depth (64)");
        EXPECT_EQ(message.rfind(std::vector<std::string>{"base: ", "mine: ", "theirs: "}[which], 0), 0u) << message;
    }
    auto request = request_for({account_id(alice)});
    request.limits.max_bytes = good.size() - 1;
    EXPECT_EQ(error_of([&] { plan_merge_write("", "{}", good, request); }),
              "theirs: input is " + std::to_string(good.size()) + " bytes, over the limit of " +
                  std::to_string(good.size() - 1));
    EXPECT_NO_THROW(plan_merge_write("", "{}", "", request));
}

TEST(PlanMergeWriteErrors, NonObjectTopLevelInAHandBuiltCache) {
    token_cache broken;
    broken.document() = json::array();
    EXPECT_EQ(error_of([&] { merge_three_way(token_cache(), token_cache(), broken); }),
              "theirs: top level: expected an object, got array");
    EXPECT_EQ(error_of([&] { merge_three_way(broken, token_cache(), token_cache()); }),
              "base: top level: expected an object, got array");
}

// ================================================================================================================
// large partitions
// ================================================================================================================

TEST(PlanMergeWriteLarge, FiveThousandEntries) {
    // An app partition for one tenant with 5,000 scopes; each side changes, adds and removes some.
    const std::string tenant = "t1";
    json base = json::parse(fixtures::cache_builder().text());
    const auto token = [&](int i, const std::string& tag, std::int64_t expires_on) {
        json entry = access_token(tag + std::to_string(i), std::to_string(expires_on), std::to_string(now), "");
        entry["realm"] = tenant;
        entry["target"] = "scope" + std::to_string(i);
        return entry;
    };
    const auto key_of = [&](int i) { return fixtures::credential_key(token(i, "", now)); };
    for (int i = 0; i < 5000; ++i) base["AccessToken"][key_of(i)] = token(i, "base", now + 3600);
    json mine = base, theirs = base;
    for (int i = 0; i < 100; ++i) mine["AccessToken"][key_of(i)] = token(i, "mine", now + 4000);
    for (int i = 100; i < 300; ++i) theirs["AccessToken"][key_of(i)] = token(i, "theirs", now + 4000);
    for (int i = 5000; i < 5050; ++i) theirs["AccessToken"][key_of(i)] = token(i, "theirs", now + 4000);
    for (int i = 4000; i < 4020; ++i) mine["AccessToken"].erase(key_of(i));
    for (int i = 50; i < 60; ++i) theirs["AccessToken"][key_of(i)] = token(i, "theirs", now + 4500);  // conflicts

    merge_report report;
    const auto plan = plan_merge_write(base.dump(), mine.dump(), theirs.dump(),
                                       request_for({app_id(tenant)}, partition_kind::app_tenant), &report);
    EXPECT_EQ(counts(report), "mine 90, theirs 260, conflicts 10, removed 20");
    const auto stored = json::parse(plan.cache)["AccessToken"];
    EXPECT_EQ(stored.size(), 5000u + 50u - 20u);
    EXPECT_EQ(stored[key_of(0)]["secret"], "mine0");
    EXPECT_EQ(stored[key_of(55)]["secret"], "theirs55");
    EXPECT_EQ(stored[key_of(200)]["secret"], "theirs200");
    EXPECT_EQ(stored.find(key_of(4010)), stored.end());
    EXPECT_EQ(plan.ttl_seconds, 4500);
}
