#pragma once
// The MSAL token-cache document: parsed, validated and kept exactly as written (key order, unknown fields and
// sections, string-or-number timestamps), so that other MSAL libraries sharing the format lose nothing.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace msalcache {

// ordered_json keeps insertion order, so a round trip re-emits keys exactly as msal wrote them.
using json = nlohmann::ordered_json;

// Every error the core reports. The message names where the problem is: section, entry key, field,
// e.g. `AccessToken["uid.utid-login.windows.net-accesstoken-..."].expires_on: expected a string of digits or an integer`.
class cache_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

namespace section {
inline constexpr std::string_view account = "Account";
inline constexpr std::string_view id_token = "IdToken";
inline constexpr std::string_view access_token = "AccessToken";
inline constexpr std::string_view refresh_token = "RefreshToken";
inline constexpr std::string_view app_metadata = "AppMetadata";
}  // namespace section

struct parse_limits {
    std::size_t max_bytes = 64u * 1024u * 1024u;  // larger input is rejected before parsing
    std::size_t max_depth = 64;                   // a real cache nests 4-5 levels; this stops stack exhaustion
};

class token_cache {
  public:
    token_cache();  // an empty cache: `{}`

    // Parses and validates. Throws cache_error on: input over limits, invalid JSON (with byte position), invalid
    // UTF-8, nesting deeper than max_depth, duplicate object keys, a known section that is not an object of objects,
    // a missing or mistyped required field in a known section (an Account's home_account_id must also be non-empty:
    // "" means app tokens). Unknown sections and fields are accepted as-is.
    static token_cache parse(std::string_view text, const parse_limits& limits = {});

    // Compact JSON (no whitespace), keys in their original order.
    std::string dump() const;

    const json& document() const { return document_; }
    json& document() { return document_; }

    // The entries of a known section; an empty object when the section is absent.
    const json& entries(std::string_view section_name) const;
    // Creates the section (as an object) if needed.
    json& mutable_entries(std::string_view section_name);

    bool empty_of_entries() const;  // no entries in any known section

  private:
    json document_;
};

// Field access shared by partitioning and expiry; all tolerate absent fields.
std::string_view string_field(const json& entry, std::string_view name);  // "" when absent or not a string
// Epoch seconds from a string of digits or an integer; nullopt when absent. Throws cache_error when present but
// neither (the validator prevents that for parsed caches).
std::optional<std::int64_t> epoch_field(const json& entry, std::string_view name);

}  // namespace msalcache
