#pragma once
// Helpers shared by the core's source files. Not part of the public API.

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "msalcache/token_cache.hpp"

namespace msalcache::detail {

inline constexpr std::array<std::string_view, 5> known_sections = {
    section::account, section::id_token, section::access_token, section::refresh_token, section::app_metadata};

inline bool is_known_section(std::string_view name) {
    for (auto known : known_sections) {
        if (name == known) return true;
    }
    return false;
}

// IdToken, AccessToken and RefreshToken entries: the ones partition_of_credential applies to.
inline bool is_credential_section(std::string_view name) {
    return name == section::id_token || name == section::access_token || name == section::refresh_token;
}

// Epoch seconds from a string of 1-19 digits or a non-negative integer, within int64; nullopt for anything else.
std::optional<std::int64_t> parse_epoch(const json& value);

// parse_epoch of a string's decoded text: 1-19 digits within int64 (the fast write path reads timestamps as text).
std::optional<std::int64_t> parse_epoch_text(std::string_view text);

// The MSAL schema checks of token_cache::parse, on an already built document (known sections, required fields,
// timestamp and userAssertionHash types). Throws cache_error naming the section, entry and field.
void validate_document(const json& document);

// A string as a JSON literal, for error messages: keys may hold quotes or control characters, and a message must
// stay on one line and show where one key ends.
inline std::string json_literal(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20) {
            out += "\\u00";
            out += hex[byte >> 4];
            out += hex[byte & 0xF];
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

// `AccessToken["<key>"]`, the prefix of every message about one entry.
inline std::string entry_path(std::string_view section_name, std::string_view key) {
    std::string out(section_name);
    out += '[';
    out += json_literal(key);
    out += ']';
    return out;
}

// Timestamps come from the document and the clock arrives from JavaScript: neither may overflow (UB) when added.
inline std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    constexpr auto min = std::numeric_limits<std::int64_t>::min();
    if (b > 0 && a > max - b) return max;
    if (b < 0 && a < min - b) return min;
    return a + b;
}

inline std::int64_t saturating_sub(std::int64_t a, std::int64_t b) {
    if (b == std::numeric_limits<std::int64_t>::min()) return a >= 0 ? std::numeric_limits<std::int64_t>::max() : a - b;
    return saturating_add(a, -b);
}

}  // namespace msalcache::detail
