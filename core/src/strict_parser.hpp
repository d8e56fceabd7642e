#pragma once
// JSON text -> ordered_json DOM, stricter than nlohmann::json::parse. Not part of the public API.

#include <cstddef>
#include <string_view>

#include "msalcache/token_cache.hpp"

namespace msalcache::detail {

// Throws cache_error on invalid JSON (naming the byte offset), invalid UTF-8, a duplicate object key (naming the key
// and the object holding it) or nesting deeper than max_depth. Does not check the MSAL schema.
json parse_strict(std::string_view text, std::size_t max_depth);

}  // namespace msalcache::detail
