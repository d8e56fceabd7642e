// token_cache::parse on malformed and hostile input: syntax, UTF-8, limits, duplicate keys.

#include <gtest/gtest.h>

#include <string>

#include "fixtures.hpp"
#include "msalcache/token_cache.hpp"

using namespace msalcache;
using fixtures::parse_error;

namespace {

json valid_access_token() {
    return {{"home_account_id", "uid.utid"}, {"environment", "login.microsoftonline.com"},
            {"credential_type", "AccessToken"}, {"client_id", "c"}, {"secret", "s"}, {"realm", "utid"},
            {"target", "user.read"}, {"cached_at", "1700000000"}, {"expires_on", "1700003600"}};
}

}  // namespace

// ================================================================================================================
// malformed JSON
// ================================================================================================================

TEST(MalformedJson, EmptyInput) { EXPECT_EQ(parse_error(""), "invalid JSON: empty input"); }

TEST(MalformedJson, WhitespaceOnly) {
    EXPECT_EQ(parse_error(" \n\t"), "invalid JSON at byte 3: unexpected end of input; expected '[', '{', or a literal");
}

TEST(MalformedJson, NotJson) { EXPECT_EQ(parse_error("hello"), "invalid JSON at byte 0: invalid literal"); }

TEST(MalformedJson, ByteOffsetOfTheOffendingByte) {
    EXPECT_EQ(parse_error(R"({"a":tru})"), "invalid JSON at byte 8: invalid literal");
    EXPECT_EQ(parse_error(R"({"a":1,})"), "invalid JSON at byte 7: unexpected '}'; expected string literal");
    EXPECT_EQ(parse_error(R"({"a" 1})"), "invalid JSON at byte 5: unexpected number literal; expected ':'");
}

TEST(MalformedJson, TrailingGarbage) {
    EXPECT_EQ(parse_error(R"({"a":1} {})"), "invalid JSON at byte 8: unexpected '{'; expected end of input");
}

TEST(MalformedJson, EveryTruncationOfARealCacheIsRejected) {
    const auto& text = fixtures::msal_node_cache();
    for (std::size_t size = 0; size < text.size(); ++size) {
        const auto message = parse_error(std::string_view(text).substr(0, size));
        ASSERT_EQ(message.rfind("invalid ", 0), 0u) << "prefix of " << size << " bytes: " << message;
    }
}

TEST(MalformedJson, MessageDoesNotQuoteTheInput) {
    // nlohmann's own message ends with "last read: '<text>'": here that text would be part of a secret.
    const auto message = parse_error(R"({"secret":"SECRET-VALUE)");
    EXPECT_EQ(message, "invalid JSON at byte 23: invalid string: missing closing quote");
    EXPECT_EQ(message.find("SECRET"), std::string::npos);
}

TEST(MalformedJson, RawControlCharacterInString) {
    EXPECT_EQ(parse_error("{\"a\":\"x\ny\"}"),
              "invalid JSON at byte 7: invalid string: control character U+000A (LF) must be escaped to \\u000A or \\n");
}

TEST(MalformedJson, CommentsAreNotJson) { EXPECT_CONTAINS(parse_error("{/* c */}"), "invalid JSON at byte 1"); }

// ================================================================================================================
// invalid UTF-8
// ================================================================================================================

TEST(InvalidUtf8, InAValue) {
    EXPECT_EQ(parse_error("{\"a\":\"\xff\"}"), "invalid UTF-8 at byte 6: invalid string: ill-formed UTF-8 byte");
}

TEST(InvalidUtf8, InAKey) {
    EXPECT_EQ(parse_error("{\"\xc3\x28\":1}"), "invalid UTF-8 at byte 3: invalid string: ill-formed UTF-8 byte");
}

TEST(InvalidUtf8, Variants) {
    for (const char* bad : {"\xc0\xaf",           // overlong '/'
                            "\xed\xa0\x80",       // UTF-16 surrogate encoded in UTF-8
                            "\xe2\x82",           // truncated sequence
                            "\xf4\x90\x80\x80",   // above U+10FFFF
                            "\x80"}) {            // lone continuation byte
        EXPECT_CONTAINS(parse_error(std::string("{\"a\":\"") + bad + "\"}"), "invalid UTF-8 at byte ");
    }
}

TEST(InvalidUtf8, OutsideStrings) { EXPECT_CONTAINS(parse_error("{\xff}"), "invalid JSON at byte 1"); }

// ================================================================================================================
// limits
// ================================================================================================================

TEST(Limits, DeepArrayNestingIsAnErrorNotAStackOverflow) {
    const std::string text(100000, '[');
    EXPECT_CONTAINS(parse_error(text), "nesting deeper than max_depth (64) at [0][0]");
}

TEST(Limits, DeepObjectNesting) {
    std::string text;
    for (int i = 0; i < 100000; ++i) text += R"({"a":)";
    EXPECT_CONTAINS(parse_error(text), "nesting deeper than max_depth (64) at a[\"a\"].a.a.a");
}

TEST(Limits, DepthLimitIsInclusive) {
    // MSAL data nests four levels (document, section, entry, tenantProfiles); the fixture's unknown section seven.
    EXPECT_NO_THROW(token_cache::parse(fixtures::msal_node_cache(), {64u << 20, 7}));
    EXPECT_EQ(parse_error(fixtures::msal_node_cache(), {64u << 20, 6}),
              R"(nesting deeper than max_depth (6) at ["X-Unknown-Section"]["nested"].list[1][1][1])");
    const auto message = parse_error(fixtures::msal_node_cache(), {64u << 20, 3});
    EXPECT_EQ(message.rfind("nesting deeper than max_depth (3) at Account[\"a1b2c3d4-", 0), 0u) << message;
    EXPECT_CONTAINS(message, "\"].tenantProfiles");
    EXPECT_EQ(parse_error("{}", {100, 0}), "nesting deeper than max_depth (0)");
    EXPECT_EQ(parse_error(R"({"X":[[[]]]})", {100, 3}), "nesting deeper than max_depth (3) at X[0][0]");
}

TEST(Limits, OverMaxBytesIsRejectedBeforeParsing) {
    EXPECT_EQ(parse_error("{} ", {2, 64}), "input is 3 bytes, over the limit of 2");
    EXPECT_EQ(parse_error("not even json", {2, 64}), "input is 13 bytes, over the limit of 2");
    EXPECT_NO_THROW(token_cache::parse("{}", {2, 64}));
}

TEST(Limits, TenMegabyteStringValue) {
    const std::string big(10u << 20, 'x');
    const std::string text = R"({"Other":{"blob":")" + big + R"("}})";
    const auto cache = token_cache::parse(text);
    EXPECT_EQ(cache.document()["Other"]["blob"].get_ref<const std::string&>().size(), big.size());
    EXPECT_EQ(cache.dump(), text);
    EXPECT_EQ(parse_error(text, {1u << 20, 64}), "input is " + std::to_string(text.size()) + " bytes, over the limit of 1048576");
}

// ================================================================================================================
// duplicate keys
// ================================================================================================================

TEST(DuplicateKeys, TopLevel) {
    EXPECT_EQ(parse_error(R"({"Account":{},"Account":{}})"), "duplicate key \"Account\" at top level");
}

TEST(DuplicateKeys, EntryKey) {
    EXPECT_EQ(parse_error(R"({"AccessToken":{"a-b":{},"a-b":{}}})"), "duplicate key \"a-b\" in AccessToken");
}

TEST(DuplicateKeys, FieldInsideAnEntry) {
    EXPECT_EQ(parse_error(R"({"AccessToken":{"k-1":{"secret":"a","secret":"b"}}})"),
              "duplicate key \"secret\" in AccessToken[\"k-1\"]");
}

TEST(DuplicateKeys, DeeperInsideAnUnknownSection) {
    EXPECT_EQ(parse_error(R"({"X":{"e":{"list":[0,{"v":1,"v":2}]}}})"), "duplicate key \"v\" in X[\"e\"].list[1]");
}

TEST(DuplicateKeys, KeyIsQuotedInTheMessage) {
    EXPECT_EQ(parse_error(R"({"a\"\n":1,"a\"\n":2})"), R"(duplicate key "a\"\u000a" at top level)");
}

TEST(DuplicateKeys, SameKeyInDifferentObjectsIsFine) {
    EXPECT_NO_THROW(token_cache::parse(R"({"X":{"a":{"k":1},"b":{"k":1}},"Y":{"a":1}})"));
}

TEST(DuplicateKeys, KeysDifferingOnlyByCaseAreDistinct) { EXPECT_NO_THROW(token_cache::parse(R"({"a":1,"A":1})")); }

TEST(DuplicateKeys, AroundTheHashSetThreshold) {
    for (int size : {15, 16, 17, 18, 40}) {
        json object = json::object();
        for (int i = 0; i < size; ++i) object["key" + std::to_string(i)] = i;
        const std::string text = object.dump();
        EXPECT_NO_THROW(token_cache::parse(text)) << size;
        for (int duplicate : {0, size - 1}) {
            const std::string with_duplicate =
                text.substr(0, text.size() - 1) + ",\"key" + std::to_string(duplicate) + "\":0}";
            EXPECT_EQ(parse_error(with_duplicate), "duplicate key \"key" + std::to_string(duplicate) + "\" at top level")
                << size;
        }
    }
}

TEST(DuplicateKeys, LargeSection) {
    // Written as text: building 20,000 entries through ordered_json's operator[] is itself quadratic.
    const json entry = valid_access_token();
    std::string text = R"({"AccessToken":{)";
    for (int i = 0; i < 20000; ++i) {
        text += (i == 0 ? "" : ",") + json("-login.microsoftonline.com-accesstoken-c-tenant-" + std::to_string(i)).dump() +
                ":" + entry.dump();
    }
    ASSERT_NO_THROW(token_cache::parse(text + "}}"));
    EXPECT_EQ(parse_error(text + R"(,"-login.microsoftonline.com-accesstoken-c-tenant-7":{}}})"),
              R"(duplicate key "-login.microsoftonline.com-accesstoken-c-tenant-7" in AccessToken)");
}
