#pragma once
// plan_write's fast path: a single-pass index of a cache's JSON text, and the write decided on it. Not part of the
// public API.
//
// Why: the DOM path copies every character of every token secret into the DOM and re-escapes it on dump, which is
// most of plan_write's time. The index validates the text as strictly as parse_strict, but keeps only what the
// schema, partition and expiry logic read: per entry a few views of decoded field values ("light" entries, no JSON
// DOM, no per-field allocation) plus the byte spans of the values, so that the output can be spliced together from
// the input.

#include <optional>
#include <string_view>

#include "msalcache/store_plan.hpp"

namespace msalcache::detail {

// plan_write's two implementations, exposed for the differential tests; plan_write tries the fast one first.
write_plan plan_write_dom(std::string_view serialized, const write_request& request);
// nullopt when the text is not a cache token_cache::parse would accept (invalid JSON or UTF-8, a duplicate key,
// nesting deeper than max_depth, a schema error), or when the scanner is unsure (max_depth too large for its
// recursion): the DOM path then decides and names the error. Otherwise the same plan as plan_write_dom; the cache
// text is spliced from the input, so it equals the DOM path's bytes when the input is compact.
std::optional<write_plan> plan_write_fast(std::string_view serialized, const write_request& request);

}  // namespace msalcache::detail
