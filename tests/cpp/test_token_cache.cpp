// token_cache: round trip, field access and schema validation. Malformed input: test_parse_errors.cpp.

#include <gtest/gtest.h>

#include <string>

#include "fixtures.hpp"
#include "msalcache/token_cache.hpp"

using namespace msalcache;
using fixtures::error_of;
using fixtures::parse_error;

namespace {

// A minimal valid entry per known section.
json valid_entry(const std::string& section_name) {
    if (section_name == "Account") {
        return {{"home_account_id", "uid.utid"}, {"environment", "login.microsoftonline.com"}, {"realm", "utid"}};
    }
    if (section_name == "AppMetadata") return {{"client_id", "c"}, {"environment", "login.microsoftonline.com"}};
    json entry = {{"home_account_id", "uid.utid"}, {"environment", "login.microsoftonline.com"},
                  {"credential_type", section_name}, {"client_id", "c"}, {"secret", "s"}};
    if (section_name == "RefreshToken") return entry;
    entry["realm"] = "utid";
    if (section_name == "IdToken") return entry;
    entry["target"] = "user.read";
    entry["cached_at"] = "1700000000";
    entry["expires_on"] = "1700003600";
    return entry;
}

// `{"<section>":{"k":<entry>}}`
std::string cache_with(const std::string& section_name, const json& entry, const std::string& key = "k") {
    json doc = json::object();
    doc[section_name][key] = entry;
    return doc.dump();
}

const std::string timestamp_error = "AccessToken[\"k\"].expires_on: expected a string of digits or an integer";

}  // namespace

// ================================================================================================================
// round trip
// ================================================================================================================

TEST(RoundTrip, MsalNodeCacheIsByteIdentical) {
    const auto& text = fixtures::msal_node_cache();
    EXPECT_EQ(token_cache::parse(text).dump(), text);
}

TEST(RoundTrip, ParsedValueEqualsAnIndependentParser) {
    const auto& text = fixtures::msal_node_cache();
    EXPECT_EQ(fixtures::unordered(token_cache::parse(text)), nlohmann::json::parse(text));
}

TEST(RoundTrip, DumpOfADumpIsStable) {
    const auto once = token_cache::parse(fixtures::msal_node_cache()).dump();
    EXPECT_EQ(token_cache::parse(once).dump(), once);
}

TEST(RoundTrip, WhitespaceIsRemoved) {
    const std::string pretty = nlohmann::ordered_json::parse(fixtures::msal_node_cache()).dump(4);
    EXPECT_EQ(token_cache::parse(pretty).dump(), fixtures::msal_node_cache());
}

TEST(RoundTrip, KeyOrderIsKeptEverywhere) {
    const std::string text =
        R"({"Zeta":{"b":1,"a":2},"AppMetadata":{},"Account":{"k":{"realm":"r","environment":"e",)"
        R"("home_account_id":"h","z":0,"a":0}},"Alpha":[]})";
    EXPECT_EQ(token_cache::parse(text).dump(), text);
}

TEST(RoundTrip, TimestampsKeepTheirType) {
    const auto cache = token_cache::parse(fixtures::msal_node_cache());
    const json& access_tokens = cache.entries(section::access_token);
    const std::string app_key = fixtures::keys_of(cache, "AccessToken")[1];  // the app token
    ASSERT_TRUE(access_tokens.contains(app_key));
    EXPECT_TRUE(access_tokens[app_key]["expires_on"].is_number_unsigned());
    EXPECT_TRUE(access_tokens.begin()->at("expires_on").is_string());
    EXPECT_EQ(epoch_field(access_tokens[app_key], "expires_on"), 1700003599);
    EXPECT_EQ(epoch_field(*access_tokens.begin(), "expires_on"), 1700003599);
}

TEST(RoundTrip, EntryKeysAreKeptAsWritten) {
    // Keys hold GUIDs, URLs and an empty home_account_id: '-' cannot separate their parts.
    const auto cache = token_cache::parse(fixtures::msal_node_cache());
    const auto keys = fixtures::keys_of(cache, "AccessToken");
    ASSERT_EQ(keys.size(), 3u);
    // The last segment is msal's hash of the token's additionalCacheKeyComponents; it starts with a '-' too.
    EXPECT_EQ(keys[1], std::string("-login.windows.net-accesstoken-") + fixtures::client + "-" + fixtures::tenant +
                           "-https://graph.microsoft.com/.default---qm1m4elvr1514r5ti2nrvgfdwzidlmpoormdb8eyoo");
    EXPECT_EQ(string_field(cache.entries("AccessToken")[keys[1]], "home_account_id"), "");
}

TEST(RoundTrip, CamelCaseFieldsSurvive) {
    const auto cache = token_cache::parse(fixtures::msal_node_cache());
    const auto& account = *cache.entries("Account").begin();
    ASSERT_TRUE(account["tenantProfiles"].is_array());
    EXPECT_TRUE(account["tenantProfiles"][0].is_string());  // msal-node stores each profile as JSON text
    const auto& obo = cache.entries("AccessToken").back();
    EXPECT_EQ(string_field(obo, "userAssertionHash"), fixtures::assertion_hash);
}

TEST(RoundTrip, StringEscapesMatchJsonStringify) {
    // JSON.stringify escapes '"', '\\', \b \f \n \r \t and other C0 controls as lower-case \u00xx; it writes DEL,
    // U+2028/U+2029, '/' and all non-ASCII text raw. nlohmann's dump does the same.
    const std::string text = "{\"x\":\"\\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001b\\u001f\x7f\xe2\x80\xa8\xe2\x80\xa9/"
                             "\xc3\xa9\xf0\x9f\x98\x80\"}";
    EXPECT_EQ(token_cache::parse(text).dump(), text);
}

// Documented differences: inputs msal-node never writes, normalised to the same JSON value.
TEST(RoundTrip, EscapedNonAsciiIsWrittenRaw) {
    EXPECT_EQ(token_cache::parse(R"({"n":"Zo\u00eb \ud83d\ude00"})").dump(), "{\"n\":\"Zo\xc3\xab \xf0\x9f\x98\x80\"}");
}

TEST(RoundTrip, UnneededEscapesAreDropped) {
    EXPECT_EQ(token_cache::parse(R"({"u":"\/\u0041\u007f"})").dump(), "{\"u\":\"/A\x7f\"}");
    EXPECT_EQ(token_cache::parse(R"({"u":"\u001B"})").dump(), R"({"u":"\u001b"})");
}

TEST(RoundTrip, FloatsMayBeWrittenDifferently) {
    // JSON.stringify writes 0.000001 and 100; nlohmann writes the shortest round-trip form in its own style. The
    // values are equal; no MSAL field is a float.
    EXPECT_EQ(token_cache::parse(R"({"f":[0.000001,1E2,1e21,0.5,-0.0]})").dump(), R"({"f":[1e-06,100.0,1e+21,0.5,-0.0]})");
}

TEST(RoundTrip, IntegersAreExact) {
    const std::string text = R"({"i":[0,-1,9007199254740993,-9223372036854775808,18446744073709551615]})";
    EXPECT_EQ(token_cache::parse(text).dump(), text);
    EXPECT_EQ(token_cache::parse(R"({"i":-0})").dump(), R"({"i":0})");
}

TEST(RoundTrip, LoneSurrogateIsRejected) {
    // JSON.stringify writes "\ud800" for a broken JavaScript string; it is not valid Unicode and cannot round trip.
    EXPECT_EQ(parse_error(R"({"n":"\ud800"})"),
              "invalid JSON at byte 12: invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF");
}

// ================================================================================================================
// empty caches and accessors
// ================================================================================================================

TEST(Accessors, DefaultCacheIsAnEmptyObject) {
    token_cache cache;
    EXPECT_EQ(cache.dump(), "{}");
    EXPECT_TRUE(cache.empty_of_entries());
    EXPECT_TRUE(cache.entries("AccessToken").is_object());
    EXPECT_TRUE(cache.entries("AccessToken").empty());
    EXPECT_EQ(cache.dump(), "{}");  // entries() does not create the section
}

TEST(Accessors, MsalEmptyCacheHasNoEntries) {
    const std::string text = R"({"Account":{},"IdToken":{},"AccessToken":{},"RefreshToken":{},"AppMetadata":{}})";
    const auto cache = token_cache::parse(text);
    EXPECT_TRUE(cache.empty_of_entries());
    EXPECT_EQ(cache.dump(), text);
}

TEST(Accessors, UnknownSectionsDoNotCountAsEntries) {
    EXPECT_TRUE(token_cache::parse(R"({"Other":{"x":{"y":1}}})").empty_of_entries());
    EXPECT_FALSE(token_cache::parse(cache_with("AppMetadata", valid_entry("AppMetadata"))).empty_of_entries());
}

TEST(Accessors, MutableEntriesCreatesTheSectionAtTheEnd) {
    auto cache = token_cache::parse(R"({"Account":{}})");
    cache.mutable_entries("AccessToken")["k"] = valid_entry("AccessToken");
    EXPECT_EQ(fixtures::keys_of(cache, "AccessToken"), std::vector<std::string>{"k"});
    EXPECT_EQ(cache.dump().rfind(R"({"Account":{},"AccessToken":{"k":)", 0), 0u);
    EXPECT_EQ(&cache.mutable_entries("AccessToken"), &cache.entries("AccessToken"));
}

TEST(Accessors, StringField) {
    const json entry = {{"s", "text"}, {"n", 1}, {"e", ""}};
    EXPECT_EQ(string_field(entry, "s"), "text");
    EXPECT_EQ(string_field(entry, "n"), "");
    EXPECT_EQ(string_field(entry, "e"), "");
    EXPECT_EQ(string_field(entry, "absent"), "");
    EXPECT_EQ(string_field(json::array(), "s"), "");
}

TEST(Accessors, EpochField) {
    const json entry = {{"s", "1700000000"}, {"i", 1700000000}, {"zero", "0"}, {"bad", "17e8"}, {"neg", -1}};
    EXPECT_EQ(epoch_field(entry, "s"), 1700000000);
    EXPECT_EQ(epoch_field(entry, "i"), 1700000000);
    EXPECT_EQ(epoch_field(entry, "zero"), 0);
    EXPECT_EQ(epoch_field(entry, "absent"), std::nullopt);
    EXPECT_EQ(error_of([&] { epoch_field(entry, "bad"); }), "bad: expected a string of digits or an integer");
    EXPECT_EQ(error_of([&] { epoch_field(entry, "neg"); }), "neg: expected a string of digits or an integer");
}

TEST(Accessors, DumpOfInvalidUtf8SetInPlaceIsACacheError) {
    token_cache cache;
    cache.document()["x"] = std::string("\xff");
    EXPECT_CONTAINS(error_of([&] { cache.dump(); }), "cannot serialise the cache");
}

TEST(Accessors, SectionOfTheWrongTypeSetInPlaceIsACacheError) {
    token_cache cache;
    cache.document()["AccessToken"] = json::array();
    EXPECT_EQ(error_of([&] { cache.entries("AccessToken"); }), "AccessToken: expected an object, got array");
    EXPECT_EQ(error_of([&] { cache.mutable_entries("AccessToken"); }), "AccessToken: expected an object, got array");
}

// ================================================================================================================
// schema
// ================================================================================================================

TEST(Schema, TopLevelMustBeAnObject) {
    EXPECT_EQ(parse_error("[]"), "top level: expected an object, got array");
    EXPECT_EQ(parse_error("\"x\""), "top level: expected an object, got string");
    EXPECT_EQ(parse_error("42"), "top level: expected an object, got number");
    EXPECT_EQ(parse_error("null"), "top level: expected an object, got null");
}

TEST(Schema, KnownSectionMustBeAnObject) {
    for (const char* name : {"Account", "IdToken", "AccessToken", "RefreshToken", "AppMetadata"}) {
        EXPECT_EQ(parse_error(std::string(R"({")") + name + R"(":[]})"), std::string(name) + ": expected an object, got array");
        EXPECT_EQ(parse_error(std::string(R"({")") + name + R"(":null})"), std::string(name) + ": expected an object, got null");
    }
}

TEST(Schema, EntryMustBeAnObject) {
    EXPECT_EQ(parse_error(R"({"IdToken":{"k":"x"}})"), "IdToken[\"k\"]: expected an object, got string");
    EXPECT_EQ(parse_error(R"({"AppMetadata":{"k":[]}})"), "AppMetadata[\"k\"]: expected an object, got array");
}

TEST(Schema, ValidMinimalEntries) {
    for (const char* name : {"Account", "IdToken", "AccessToken", "RefreshToken", "AppMetadata"}) {
        EXPECT_NO_THROW(token_cache::parse(cache_with(name, valid_entry(name)))) << name;
    }
}

TEST(Schema, EveryRequiredFieldMissingOrMistyped) {
    const std::vector<std::pair<std::string, std::vector<std::string>>> required = {
        {"Account", {"home_account_id", "environment", "realm"}},
        {"IdToken", {"home_account_id", "environment", "credential_type", "client_id", "secret", "realm"}},
        {"AccessToken", {"home_account_id", "environment", "credential_type", "client_id", "secret", "realm", "target"}},
        {"RefreshToken", {"home_account_id", "environment", "credential_type", "client_id", "secret"}},
        {"AppMetadata", {"client_id", "environment"}},
    };
    for (const auto& [name, fields] : required) {
        for (const auto& field : fields) {
            const std::string where = name + "[\"k\"]." + field;
            json entry = valid_entry(name);
            entry.erase(field);
            EXPECT_EQ(parse_error(cache_with(name, entry)), where + ": missing (expected a string)");
            entry[field] = 42;
            EXPECT_EQ(parse_error(cache_with(name, entry)), where + ": expected a string, got number");
            entry[field] = nullptr;
            EXPECT_EQ(parse_error(cache_with(name, entry)), where + ": expected a string, got null");
        }
    }
}

TEST(Schema, AccessTokenRequiresTimestamps) {
    for (const char* field : {"cached_at", "expires_on"}) {
        json entry = valid_entry("AccessToken");
        entry.erase(field);
        EXPECT_EQ(parse_error(cache_with("AccessToken", entry)),
                  std::string("AccessToken[\"k\"].") + field + ": missing (expected a string of digits or an integer)");
    }
}

TEST(Schema, EmptyHomeAccountId) {
    json account = valid_entry("Account");
    account["home_account_id"] = "";
    EXPECT_EQ(parse_error(cache_with("Account", account)), "Account[\"k\"].home_account_id: expected a non-empty string");
    for (const char* name : {"IdToken", "AccessToken", "RefreshToken"}) {
        json credential = valid_entry(name);
        credential["home_account_id"] = "";  // app (client-credential) tokens
        EXPECT_NO_THROW(token_cache::parse(cache_with(name, credential))) << name;
    }
}

TEST(Schema, ValidTimestamps) {
    for (const json& value : {json("0"), json("1700000000"), json("0001700000000"), json("9223372036854775807"),
                              json(0), json(1700000000), json(9223372036854775807LL)}) {
        json entry = valid_entry("AccessToken");
        entry["expires_on"] = value;
        EXPECT_NO_THROW(token_cache::parse(cache_with("AccessToken", entry))) << value.dump();
    }
}

TEST(Schema, InvalidTimestamps) {
    for (const json& value :
         {json(""), json(" 1"), json("+1"), json("-1"), json("17e8"), json("0x10"), json("1.5"),
          json("12345678901234567890"),  // 20 digits
          json("9223372036854775808"),   // 19 digits, over int64
          json(-1), json(1.7e9), json(9223372036854775808ULL), json(true), json(nullptr), json::array(),
          json::object()}) {
        json entry = valid_entry("AccessToken");
        entry["expires_on"] = value;
        EXPECT_EQ(parse_error(cache_with("AccessToken", entry)), timestamp_error) << value.dump();
    }
}

TEST(Schema, OptionalTimestampsAreCheckedWhenPresent) {
    json refresh = valid_entry("RefreshToken");
    refresh["expires_on"] = "soon";
    EXPECT_EQ(parse_error(cache_with("RefreshToken", refresh)),
              "RefreshToken[\"k\"].expires_on: expected a string of digits or an integer");
    json account = valid_entry("Account");
    account["last_modification_time"] = 1.5;
    EXPECT_EQ(parse_error(cache_with("Account", account)),
              "Account[\"k\"].last_modification_time: expected a string of digits or an integer");
    for (const char* field : {"extended_expires_on", "refresh_on"}) {
        json entry = valid_entry("AccessToken");
        entry[field] = "";
        EXPECT_EQ(parse_error(cache_with("AccessToken", entry)),
                  std::string("AccessToken[\"k\"].") + field + ": expected a string of digits or an integer");
    }
}

TEST(Schema, UserAssertionHashMustBeAString) {
    json entry = valid_entry("AccessToken");
    entry["userAssertionHash"] = 7;
    EXPECT_EQ(parse_error(cache_with("AccessToken", entry)), "AccessToken[\"k\"].userAssertionHash: expected a string, got number");
    entry["userAssertionHash"] = "";
    EXPECT_NO_THROW(token_cache::parse(cache_with("AccessToken", entry)));
}

TEST(Schema, UnknownFieldsAndSectionsMayHoldAnything) {
    json entry = valid_entry("AccessToken");
    entry["unknown"] = json::array({1, nullptr, json::object()});
    entry["expiry"] = "not a timestamp field";
    EXPECT_NO_THROW(token_cache::parse(cache_with("AccessToken", entry)));
    EXPECT_NO_THROW(token_cache::parse(R"({"Other":[1,2],"More":"text","Nested":{"a":{"expires_on":"x"}}})"));
}

TEST(Schema, SectionNamesAreCaseSensitive) {
    // Not a known section, so not validated: it is someone else's data.
    EXPECT_NO_THROW(token_cache::parse(R"({"accesstoken":[],"ACCOUNT":1})"));
}

TEST(Schema, EntryKeyIsEscapedInTheMessage) {
    json entry = valid_entry("AccessToken");
    entry["expires_on"] = "x";
    EXPECT_EQ(parse_error(cache_with("AccessToken", entry, "a\"b\tc")),
              R"(AccessToken["a\"b\u0009c"].expires_on: expected a string of digits or an integer)");
}

TEST(Schema, FirstErrorInDocumentOrderIsReported) {
    const std::string text = R"({"Account":{"k":{}},"IdToken":[]})";
    EXPECT_EQ(parse_error(text), "Account[\"k\"].home_account_id: missing (expected a string)");
}
