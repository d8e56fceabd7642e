#pragma once
// A single-pass index of a cache's JSON text for plan_write's fast path. Not part of the public API.
//
// Why: the DOM path copies every character of every token secret into the DOM and re-escapes it on dump, which is
// most of plan_write's time. The index validates the text as strictly as parse_strict, but keeps only what the
// schema, partition and expiry logic read ("light" entries) plus the byte spans of the values, so that the output
// can be spliced together from the input.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msalcache/store_plan.hpp"
#include "msalcache/token_cache.hpp"

namespace msalcache::detail {

struct indexed_member {
    std::string_view key_text;  // the key as written, quotes included
    std::string_view text;      // key, colon and value as written
    bool is_section = false;    // a known section (always an object): indexed entry by entry
    std::vector<std::string_view> entries;  // each entry's key, colon and value as written, in order
};

struct cache_index {
    std::vector<indexed_member> members;  // the top-level members, in order
    // The top-level object with the same member names in the same order (the caller moves it into a token_cache).
    // Known sections hold light entries: every field of the entry with its JSON type, strings decoded only for the
    // fields the core reads (others are ""), numbers parsed, nested arrays and objects empty. Other members are null.
    json light;
};

// nullopt when the text is not a JSON object that parse_strict would accept (invalid JSON or UTF-8, a duplicate key,
// nesting deeper than max_depth), when a known section or one of its entries is not an object, or when the scanner
// is unsure (max_depth too large for its recursion). The caller then takes the DOM path, which names the error.
std::optional<cache_index> index_cache(std::string_view text, std::size_t max_depth);

// The compact cache holding the members of `kept` (`light` after restrict_to and expire): the top-level members in
// order, known sections holding only the entries `kept` still has, each copied from the input text. nullopt when
// `kept` does not line up with `light` (never expected: the caller falls back).
std::optional<std::string> render(const std::vector<indexed_member>& members, const json& light, const json& kept);

// plan_write's two implementations, exposed for the differential tests; plan_write tries the fast one first.
write_plan plan_write_dom(std::string_view serialized, const write_request& request);
// nullopt when index_cache or the schema rejects the text, or anything is unexpected: the DOM path then decides.
std::optional<write_plan> plan_write_fast(std::string_view serialized, const write_request& request);

}  // namespace msalcache::detail
