// merge_three_way: the per-entry rules, conflicts in every section, unknown sections and fields, output order,
// the report and determinism. plan_merge_write and hostile input are in test_plan_merge_write.cpp.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "merge_fixtures.hpp"

using namespace msalcache;
using namespace merge_fixtures;
using fixtures::error_of;
using fixtures::keys_of;

namespace {

const json absent = nullptr;

// Merges three single-AccessToken caches; returns the resulting entry (null when absent) and the report.
struct at_outcome {
    json value;
    merge_report report;
};
at_outcome merge_at(const json& base, const json& mine, const json& theirs) {
    auto result = merge_three_way(with_at(base), with_at(mine), with_at(theirs));
    return {at_of(result.cache), result.report};
}

const json base_at = access_token("base");
const json mine_at = access_token("mine", "1700007200", "1700003600");
const json theirs_at = access_token("theirs", "1700007300", "1700003700");

// The same entry with its fields in reverse order: the same JSON value.
json reordered(const json& entry) {
    json out = json::object();
    const auto& members = entry.get_ref<const json::object_t&>();
    for (auto it = members.rbegin(); it != members.rend(); ++it) out[it->first] = it->second;
    return out;
}

}  // namespace

// ================================================================================================================
// the three rules without conflict
// ================================================================================================================

TEST(MergeRules, MineUnchangedTakesTheirs) {
    const auto outcome = merge_at(base_at, base_at, theirs_at);
    EXPECT_EQ(outcome.value, theirs_at);
    EXPECT_EQ(counts(outcome.report), "mine 0, theirs 1, conflicts 0, removed 0");
}

TEST(MergeRules, MineUnchangedTakesTheirsRemoval) {
    const auto outcome = merge_at(base_at, base_at, absent);
    EXPECT_EQ(outcome.value, absent);
    EXPECT_EQ(counts(outcome.report), "mine 0, theirs 0, conflicts 0, removed 1");
}

TEST(MergeRules, BothAbsentInBaseAndMineTakesTheirsAddition) {
    const auto outcome = merge_at(absent, absent, theirs_at);
    EXPECT_EQ(outcome.value, theirs_at);
    EXPECT_EQ(counts(outcome.report), "mine 0, theirs 1, conflicts 0, removed 0");
}

TEST(MergeRules, TheirsUnchangedTakesMine) {
    const auto outcome = merge_at(base_at, mine_at, base_at);
    EXPECT_EQ(outcome.value, mine_at);
    EXPECT_EQ(counts(outcome.report), "mine 1, theirs 0, conflicts 0, removed 0");
}

TEST(MergeRules, TheirsUnchangedTakesMineRemoval) {
    const auto outcome = merge_at(base_at, absent, base_at);
    EXPECT_EQ(outcome.value, absent);
    EXPECT_EQ(counts(outcome.report), "mine 0, theirs 0, conflicts 0, removed 1");
}

TEST(MergeRules, MineAdditionIsKept) {
    const auto outcome = merge_at(absent, mine_at, absent);
    EXPECT_EQ(outcome.value, mine_at);
    EXPECT_EQ(counts(outcome.report), "mine 1, theirs 0, conflicts 0, removed 0");
}

TEST(MergeRules, SameChangeOnBothSidesIsNotAConflict) {
    for (const auto& base : {base_at, absent}) {
        const auto outcome = merge_at(base, mine_at, mine_at);
        EXPECT_EQ(outcome.value, mine_at);
        EXPECT_EQ(counts(outcome.report), "mine 0, theirs 0, conflicts 0, removed 0");
    }
    const auto removed = merge_at(base_at, absent, absent);
    EXPECT_EQ(removed.value, absent);
    EXPECT_EQ(counts(removed.report), "mine 0, theirs 0, conflicts 0, removed 0");
}

TEST(MergeRules, AllThreeEqualCountsNothing) {
    const auto outcome = merge_at(base_at, base_at, base_at);
    EXPECT_EQ(outcome.value, base_at);
    EXPECT_EQ(counts(outcome.report), "mine 0, theirs 0, conflicts 0, removed 0");
}

TEST(MergeRules, FieldOrderIsNotAChange) {
    // Mine only reordered the fields: theirs' change wins, and no conflict is seen.
    auto outcome = merge_at(base_at, reordered(base_at), theirs_at);
    EXPECT_EQ(outcome.value, theirs_at);
    EXPECT_EQ(outcome.report.conflicts, 0u);
    // Theirs only reordered: mine's change wins.
    outcome = merge_at(base_at, mine_at, reordered(base_at));
    EXPECT_EQ(outcome.value, mine_at);
    EXPECT_EQ(outcome.report.conflicts, 0u);
    // Both sides equal up to order: theirs' text is kept, nothing is counted.
    outcome = merge_at(base_at, mine_at, reordered(mine_at));
    EXPECT_EQ(outcome.value.dump(), reordered(mine_at).dump());
    EXPECT_EQ(counts(outcome.report), "mine 0, theirs 0, conflicts 0, removed 0");
}

TEST(MergeRules, TextFormatIsNotAChangeButTheValueIs) {
    // Whitespace, escapes and number spelling are not part of the JSON value.
    const std::string base_text = R"({"AccessToken":{"k":{"home_account_id":"","environment":"e","credential_type":)"
                                  R"("AccessToken","client_id":"c","secret":"A","realm":"r","target":"t",)"
                                  R"("cached_at":"1","expires_on":"2","n":1.0}}})";
    const std::string mine_text = R"({ "AccessToken" : { "k" : { "home_account_id" : "", "environment" : "\u0065",)"
                                  R"( "credential_type" : "AccessToken", "client_id" : "c", "secret" : "\u0041",)"
                                  R"( "realm":"r","target":"t","cached_at":"1","expires_on":"2","n":1 } } })";
    const std::string theirs_text = R"({"AccessToken":{"k":{"home_account_id":"","environment":"e",)"
                                    R"("credential_type":"AccessToken","client_id":"c","secret":"B","realm":"r",)"
                                    R"("target":"t","cached_at":"1","expires_on":"2","n":1.0}}})";
    auto result = merge_three_way(token_cache::parse(base_text), token_cache::parse(mine_text),
                                  token_cache::parse(theirs_text));
    EXPECT_EQ(result.cache.entries("AccessToken")["k"]["secret"], "B");
    EXPECT_EQ(result.report.conflicts, 0u);
    // "2" and 2 are different JSON values: a change on both sides, hence a conflict.
    json mine = json::parse(base_text);
    mine["AccessToken"]["k"]["expires_on"] = 2;
    result = merge_three_way(token_cache::parse(base_text), cache(mine), token_cache::parse(theirs_text));
    EXPECT_EQ(result.report.conflicts, 1u);
}

// ================================================================================================================
// conflicts
// ================================================================================================================

TEST(MergeConflicts, ChangeBeatsRemovalOnEitherSide) {
    auto outcome = merge_at(base_at, absent, theirs_at);
    EXPECT_EQ(outcome.value, theirs_at);
    EXPECT_EQ(counts(outcome.report), "mine 0, theirs 1, conflicts 1, removed 0");
    outcome = merge_at(base_at, mine_at, absent);
    EXPECT_EQ(outcome.value, mine_at);
    EXPECT_EQ(counts(outcome.report), "mine 1, theirs 0, conflicts 1, removed 0");
}

TEST(MergeConflicts, AccessTokenLaterExpiresOnWins) {
    const json early = access_token("early", "1700005000", "1700009999");
    const json late = access_token("late", "1700006000", "1700000000");
    auto outcome = merge_at(base_at, early, late);
    EXPECT_EQ(outcome.value, late);
    EXPECT_EQ(counts(outcome.report), "mine 0, theirs 1, conflicts 1, removed 0");
    outcome = merge_at(base_at, late, early);
    EXPECT_EQ(outcome.value, late);
    EXPECT_EQ(counts(outcome.report), "mine 1, theirs 0, conflicts 1, removed 0");
}

TEST(MergeConflicts, AccessTokenSameExpiryLaterCachedAtWins) {
    const json older = access_token("older", "1700006000", "1700000000");
    const json newer = access_token("newer", "1700006000", "1700000100");
    EXPECT_EQ(merge_at(base_at, older, newer).value, newer);
    EXPECT_EQ(merge_at(base_at, newer, older).value, newer);
}

TEST(MergeConflicts, AccessTokenFullTieKeepsMine) {
    const json a = access_token("a", "1700006000", "1700000000");
    const json b = access_token("b", "1700006000", "1700000000");
    EXPECT_EQ(merge_at(base_at, a, b).value, a);
    EXPECT_EQ(merge_at(base_at, b, a).value, b);
}

TEST(MergeConflicts, AccessTokenStringAndIntegerTimestampsCompareByValue) {
    const json string_early = access_token("string", "1700005000", "1700000000");
    const json integer_late = access_token("integer", 1700006000, 1700000000);
    EXPECT_EQ(merge_at(base_at, string_early, integer_late).value, integer_late);
    EXPECT_EQ(merge_at(base_at, integer_late, string_early).value, integer_late);
    // The same instant written two ways ties on expires_on; cached_at decides, then mine.
    const json string_same = access_token("s", "1700006000", "1700000001");
    const json integer_same = access_token("i", 1700006000, 1700000000);
    EXPECT_EQ(merge_at(base_at, integer_same, string_same).value, string_same);
    const json integer_tie = access_token("i", 1700006000, 1700000001);
    EXPECT_EQ(merge_at(base_at, string_same, integer_tie).value, string_same);
    EXPECT_EQ(merge_at(base_at, integer_tie, string_same).value, integer_tie);
}

TEST(MergeConflicts, AccessTokenAddedOnBothSidesIsAConflict) {
    const auto outcome = merge_at(absent, access_token("m", "1700006000"), access_token("t", "1700007000"));
    EXPECT_EQ(outcome.value["secret"], "t");
    EXPECT_EQ(outcome.report.conflicts, 1u);
}

TEST(MergeConflicts, AccessTokenWithoutTimestampsSortsFirst) {
    // Only a hand-built document can lack them (parse requires both): the one with a timestamp is later.
    auto build = [](const json& entry) {
        token_cache built;
        built.document()["AccessToken"][at_key] = entry;
        return built;
    };
    json bare = access_token("bare");
    bare.erase("expires_on");
    bare.erase("cached_at");
    const json dated = access_token("dated", "1", "1");
    EXPECT_EQ(at_of(merge_three_way(build(base_at), build(bare), build(dated)).cache), dated);
    EXPECT_EQ(at_of(merge_three_way(build(base_at), build(dated), build(bare)).cache), dated);
    json broken = access_token("broken");
    broken["expires_on"] = "soon";
    EXPECT_EQ(error_of([&] { merge_three_way(build(base_at), build(broken), build(dated)); }),
              "AccessToken[\"" + at_key + "\"].expires_on: expected a string of digits or an integer");
}

TEST(MergeConflicts, EveryOtherKnownSectionKeepsMine) {
    struct section_case {
        std::string name;
        json base, mine, theirs;
    };
    const std::vector<section_case> cases = {
        {"RefreshToken", refresh_token("base"), refresh_token("mine"), refresh_token("theirs")},
        {"IdToken", id_token("base"), id_token("mine"), id_token("theirs")},
        {"Account", account("base@x"), account("mine@x"), account("theirs@x")},
        {"AppMetadata", app_metadata("base"), app_metadata("mine"), app_metadata("theirs")},
    };
    for (const auto& c : cases) {
        const auto one = [&](const json& entry) { return cache({{c.name, {{"key", entry}}}}); };
        const auto result = merge_three_way(one(c.base), one(c.mine), one(c.theirs));
        EXPECT_EQ(result.cache.entries(c.name)["key"], c.mine) << c.name;
        EXPECT_EQ(counts(result.report), "mine 1, theirs 0, conflicts 1, removed 0") << c.name;
        // The removal rules hold in every section too.
        const auto removed_mine = merge_three_way(one(c.base), cache({{c.name, json::object()}}), one(c.theirs));
        EXPECT_EQ(removed_mine.cache.entries(c.name)["key"], c.theirs) << c.name;
    }
}

TEST(MergeConflicts, ConflictsInEverySectionAtOnceAreCountedOnce) {
    auto side = [](const std::string& tag, const json& expires_on) {
        return cache({{"Account", {{"a", account(tag + "@x")}}},
                      {"IdToken", {{"i", id_token(tag)}}},
                      {"AccessToken", {{at_key, access_token(tag, expires_on)}}},
                      {"RefreshToken", {{"r", refresh_token(tag)}}},
                      {"AppMetadata", {{"m", app_metadata(tag)}}},
                      {"Unknown", {{"u", {{"v", tag}}}}},
                      {"Scalar", tag}});
    };
    const auto result = merge_three_way(side("base", "1700000000"), side("mine", "1700005000"),
                                        side("theirs", "1700009000"));
    EXPECT_EQ(counts(result.report), "mine 6, theirs 1, conflicts 7, removed 0");
    EXPECT_EQ(result.cache.entries("AccessToken")[at_key]["secret"], "theirs");
    EXPECT_EQ(result.cache.document()["Unknown"]["u"]["v"], "mine");
    EXPECT_EQ(result.cache.document()["Scalar"], "mine");
}

// ================================================================================================================
// unknown sections and fields
// ================================================================================================================

TEST(MergeUnknown, ObjectsOfObjectsMergeEntryByEntry) {
    const json base = {{"Ext", {{"a", {{"v", 1}}}, {"b", {{"v", 1}}}}}};
    const json mine = {{"Ext", {{"a", {{"v", 2}}}, {"b", {{"v", 1}}}, {"m", {{"v", 1}}}}}};
    const json theirs = {{"Ext", {{"b", {{"v", 3}}}, {"t", {{"v", 1}}}}}};  // removed a, changed b, added t
    const auto result = merge_three_way(cache(base), cache(mine), cache(theirs));
    // a: mine changed, theirs removed -> mine's (a conflict); b: theirs; t: theirs; m: mine.
    EXPECT_EQ(result.cache.document()["Ext"].dump(), R"({"b":{"v":3},"t":{"v":1},"a":{"v":2},"m":{"v":1}})");
    EXPECT_EQ(counts(result.report), "mine 2, theirs 2, conflicts 1, removed 0");
}

TEST(MergeUnknown, NewSectionOnBothSidesWithoutBaseIsAUnion) {
    const auto result = merge_three_way(cache(json::object()), cache({{"Ext", {{"m", json::object()}}}}),
                                        cache({{"Ext", {{"t", json::object()}}}}));
    EXPECT_EQ(result.cache.dump(), R"({"Ext":{"t":{},"m":{}}})");
}

TEST(MergeUnknown, OtherShapesAreOneValue) {
    const auto merge = [](const json& base, const json& mine, const json& theirs) {
        const auto wrap = [](const json& value) {
            return value.is_null() ? cache(json::object()) : cache({{"X", value}});
        };
        return merge_three_way(wrap(base), wrap(mine), wrap(theirs));
    };
    const json one = {1, 2}, two = {{"k", 1}}, three = "three";
    EXPECT_EQ(merge(one, one, two).cache.dump(), R"({"X":{"k":1}})");              // theirs changed
    EXPECT_EQ(merge(one, three, one).cache.dump(), R"({"X":"three"})");            // mine changed
    EXPECT_EQ(merge(one, one, nullptr).cache.dump(), "{}");                        // theirs removed it
    EXPECT_EQ(merge(one, nullptr, two).cache.dump(), R"({"X":{"k":1}})");          // removed vs changed
    const auto conflict = merge(one, two, three);
    EXPECT_EQ(conflict.cache.dump(), R"({"X":{"k":1}})");                          // both changed: mine
    EXPECT_EQ(counts(conflict.report), "mine 1, theirs 0, conflicts 1, removed 0");
    // Objects of objects on two sides but not on the third: one value, not entries.
    const json entries_a = {{"a", json::object()}}, entries_b = {{"b", json::object()}};
    EXPECT_EQ(merge(5, entries_a, entries_b).cache.dump(), R"({"X":{"a":{}}})");
    EXPECT_EQ(merge(entries_a, entries_b, 7).cache.dump(), R"({"X":{"b":{}}})");
}

TEST(MergeUnknown, UnknownFieldsInsideEntriesSurvive) {
    json theirs = access_token("theirs", "1700009000");
    theirs["x_claims"] = {{"nested", {1, "two", nullptr}}, {"flag", true}};
    theirs["userAssertionHash"] = "";
    json mine_rt = refresh_token("mine");
    mine_rt["x_future"] = {{"v", 2}};
    const auto result = merge_three_way(
        cache({{"AccessToken", {{at_key, base_at}}}, {"RefreshToken", {{"r", refresh_token("base")}}}}),
        cache({{"AccessToken", {{at_key, base_at}}}, {"RefreshToken", {{"r", mine_rt}}}}),
        cache({{"AccessToken", {{at_key, theirs}}}, {"RefreshToken", {{"r", refresh_token("base")}}}}));
    EXPECT_EQ(at_of(result.cache).dump(), theirs.dump());
    EXPECT_EQ(result.cache.entries("RefreshToken")["r"].dump(), mine_rt.dump());
}

// ================================================================================================================
// output order and section presence
// ================================================================================================================

TEST(MergeOrder, SectionsTheirsFirstThenMineOnly) {
    const json empty = json::object();
    const auto result = merge_three_way(
        cache(empty),
        cache({{"MineOnly", 1}, {"AccessToken", empty}, {"Shared", 2}, {"Account", empty}, {"Last", 3}}),
        cache({{"Shared", 2}, {"RefreshToken", empty}, {"AccessToken", empty}}));
    EXPECT_EQ(result.cache.dump(),
              R"({"Shared":2,"RefreshToken":{},"AccessToken":{},"MineOnly":1,"Account":{},"Last":3})");
}

TEST(MergeOrder, EntriesTheirsOrderReplacedInPlaceThenMineOnly) {
    const auto rt = [](const std::string& tag) { return refresh_token(tag); };
    const json base = {{"RefreshToken", {{"a", rt("a")}, {"b", rt("b")}, {"c", rt("c")}}}};
    const json mine = {
        {"RefreshToken", {{"z", rt("z")}, {"c", rt("c")}, {"b", rt("b2")}, {"a", rt("a")}, {"y", rt("y")}}}};
    const json theirs = {{"RefreshToken", {{"c", rt("c")}, {"x", rt("x")}, {"b", rt("b")}}}};  // removed a
    const auto result = merge_three_way(cache(base), cache(mine), cache(theirs));
    EXPECT_EQ(keys_of(result.cache, "RefreshToken"), (std::vector<std::string>{"c", "x", "b", "z", "y"}));
    EXPECT_EQ(result.cache.entries("RefreshToken")["b"]["secret"], "b2");
    EXPECT_EQ(counts(result.report), "mine 3, theirs 1, conflicts 0, removed 1");
}

TEST(MergeOrder, EmptyKnownSectionKeptOnlyWhenASideHadIt) {
    const json base = {{"IdToken", {{"i", id_token("base")}}}, {"AppMetadata", {{"m", app_metadata("1")}}}};
    // Both sides dropped IdToken altogether: left out. Theirs dropped AppMetadata, mine emptied it: kept as {}.
    const auto result = merge_three_way(cache(base), cache({{"AppMetadata", json::object()}}), cache(json::object()));
    EXPECT_EQ(result.cache.dump(), R"({"AppMetadata":{}})");
    EXPECT_EQ(merge_three_way(cache(base), cache(json::object()), cache(json::object())).cache.dump(), "{}");
}

// ================================================================================================================
// determinism and symmetry
// ================================================================================================================

TEST(MergeDeterminism, SameInputsSameBytes) {
    const auto base = token_cache::parse(fixtures::msal_node_cache());
    json mine = base.document(), theirs = base.document();
    for (auto& [key, entry] : mine["AccessToken"].items()) entry["secret"] = "mine-" + key;
    for (auto& [key, entry] : theirs["RefreshToken"].items()) entry["secret"] = "theirs-" + key;
    theirs["Account"].erase(theirs["Account"].begin());
    const auto first = merge_three_way(base, cache(mine), cache(theirs));
    const auto second = merge_three_way(base, cache(mine), cache(theirs));
    EXPECT_EQ(first.cache.dump(), second.cache.dump());
    EXPECT_EQ(counts(first.report), counts(second.report));
    EXPECT_EQ(counts(first.report), "mine 3, theirs 2, conflicts 0, removed 1");
}

TEST(MergeDeterminism, SwappingSidesGivesTheSameValueWithoutTies) {
    // Every conflict below is decided by a rule that does not depend on the side (change beats removal, later
    // access token), so swapping mine and theirs changes only the order and the mine/theirs counts.
    const json base = {{"AccessToken", {{at_key, base_at}}},
                       {"RefreshToken", {{"r1", refresh_token("r1")}, {"r2", refresh_token("r2")}}},
                       {"Ext", {{"e", {{"v", 0}}}}}};
    const json mine = {{"AccessToken", {{at_key, access_token("m", "1700005000")}}},
                       {"RefreshToken", {{"r2", refresh_token("r2-mine")}, {"r3", refresh_token("r3")}}},
                       {"Ext", {{"e", {{"v", 0}}}, {"m", {{"v", 1}}}}}};
    const json theirs = {{"AccessToken", {{at_key, access_token("t", "1700009000")}}},
                         {"RefreshToken", {{"r1", refresh_token("r1")}}},
                         {"Ext", {{"e", {{"v", 2}}}}}};
    const auto forward = merge_three_way(cache(base), cache(mine), cache(theirs));
    const auto backward = merge_three_way(cache(base), cache(theirs), cache(mine));
    EXPECT_EQ(fixtures::unordered(forward.cache), fixtures::unordered(backward.cache));
    EXPECT_EQ(forward.report.taken_mine, backward.report.taken_theirs);
    EXPECT_EQ(forward.report.taken_theirs, backward.report.taken_mine);
    EXPECT_EQ(forward.report.conflicts, backward.report.conflicts);
    EXPECT_EQ(forward.report.removed, backward.report.removed);
    EXPECT_EQ(at_of(forward.cache)["secret"], "t");
}

TEST(MergeDeterminism, IdenticalSidesGiveTheirsBytes) {
    const auto cache_text = fixtures::msal_node_cache();
    const auto same = token_cache::parse(cache_text);
    const auto result = merge_three_way(same, same, same);
    EXPECT_EQ(result.cache.dump(), cache_text);
    EXPECT_EQ(counts(result.report), "mine 0, theirs 0, conflicts 0, removed 0");
    EXPECT_EQ(merge_three_way(token_cache(), same, same).cache.dump(), cache_text);
}
