#include "msalcache/token_cache.hpp"

#include <array>
#include <limits>
#include <string>

#include "internal.hpp"
#include "strict_parser.hpp"

namespace msalcache {

std::optional<std::int64_t> detail::parse_epoch_text(std::string_view text) {
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    if (text.empty() || text.size() > 19) return std::nullopt;
    std::int64_t result = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        const int digit = c - '0';
        if (result > (max - digit) / 10) return std::nullopt;
        result = result * 10 + digit;
    }
    return result;
}

std::optional<std::int64_t> detail::parse_epoch(const json& value) {
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    if (value.is_string()) return parse_epoch_text(value.get_ref<const std::string&>());
    if (value.is_number_unsigned()) {
        const auto number = value.get<std::uint64_t>();
        if (number > static_cast<std::uint64_t>(max)) return std::nullopt;
        return static_cast<std::int64_t>(number);
    }
    if (value.is_number_integer()) {
        const auto number = value.get<std::int64_t>();
        if (number < 0) return std::nullopt;
        return number;
    }
    return std::nullopt;
}

namespace {

using detail::entry_path;
using detail::parse_epoch;

constexpr std::string_view timestamp_expectation = "expected a string of digits or an integer";

// --- schema validation -------------------------------------------------------------------------------------------

constexpr std::array<std::string_view, 5> timestamp_fields = {
    "cached_at", "expires_on", "extended_expires_on", "refresh_on", "last_modification_time"};

void require_string(const json& entry, const std::string& where, std::string_view field) {
    const auto it = entry.find(field);
    if (it == entry.end()) throw cache_error(where + "." + std::string(field) + ": missing (expected a string)");
    if (!it->is_string()) {
        throw cache_error(where + "." + std::string(field) + ": expected a string, got " + it->type_name());
    }
}

void require_timestamp(const json& entry, const std::string& where, std::string_view field) {
    if (entry.find(field) == entry.end()) {
        throw cache_error(where + "." + std::string(field) + ": missing (" + std::string(timestamp_expectation) + ")");
    }
}

void validate_entry(std::string_view section_name, const std::string& where, const json& entry) {
    if (!entry.is_object()) throw cache_error(where + ": expected an object, got " + entry.type_name());

    // Optional fields with a type: checked wherever they appear. One pass over the entry's fields.
    for (auto it = entry.begin(); it != entry.end(); ++it) {
        const std::string& field = it.key();
        for (auto name : timestamp_fields) {
            if (field == name && !parse_epoch(*it)) {
                throw cache_error(where + "." + field + ": " + std::string(timestamp_expectation));
            }
        }
        if (field == "userAssertionHash" && !it->is_string()) {
            throw cache_error(where + ".userAssertionHash: expected a string, got " + it->type_name());
        }
    }

    if (section_name == section::account) {
        for (auto field : {"home_account_id", "environment", "realm"}) require_string(entry, where, field);
        // An account without a home id could not be told apart from app tokens ("" is their home_account_id).
        if (entry["home_account_id"].get_ref<const std::string&>().empty()) {
            throw cache_error(where + ".home_account_id: expected a non-empty string");
        }
        return;
    }
    if (section_name == section::app_metadata) {
        for (auto field : {"client_id", "environment"}) require_string(entry, where, field);
        return;
    }
    // IdToken, AccessToken, RefreshToken. home_account_id is "" for app (client-credential) tokens.
    for (auto field : {"home_account_id", "environment", "credential_type", "client_id", "secret"}) {
        require_string(entry, where, field);
    }
    if (section_name == section::refresh_token) return;
    require_string(entry, where, "realm");
    if (section_name == section::id_token) return;
    require_string(entry, where, "target");
    require_timestamp(entry, where, "cached_at");
    require_timestamp(entry, where, "expires_on");
}

}  // namespace

void detail::validate_document(const json& document) {
    if (!document.is_object()) throw cache_error(std::string("top level: expected an object, got ") + document.type_name());
    for (auto section_it = document.begin(); section_it != document.end(); ++section_it) {
        const std::string& name = section_it.key();
        if (!detail::is_known_section(name)) continue;  // other MSAL libraries may add sections: keep them as they are
        const json& entries = *section_it;
        if (!entries.is_object()) throw cache_error(name + ": expected an object, got " + entries.type_name());
        for (auto it = entries.begin(); it != entries.end(); ++it) {
            validate_entry(name, entry_path(name, it.key()), *it);
        }
    }
}

token_cache::token_cache() : document_(json::object()) {}

token_cache token_cache::parse(std::string_view text, const parse_limits& limits) {
    if (text.size() > limits.max_bytes) {
        throw cache_error("input is " + std::to_string(text.size()) + " bytes, over the limit of " +
                          std::to_string(limits.max_bytes));
    }
    token_cache cache;
    cache.document_ = detail::parse_strict(text, limits.max_depth);
    detail::validate_document(cache.document_);
    return cache;
}

std::string token_cache::dump() const {
    try {
        return document_.dump();
    } catch (const nlohmann::json::exception& ex) {
        // Only reachable for a document edited in place with invalid UTF-8: parsed strings are always valid.
        throw cache_error(std::string("cannot serialise the cache: ") + ex.what());
    }
}

const json& token_cache::entries(std::string_view section_name) const {
    static const json empty = json::object();
    if (!document_.is_object()) return empty;
    const auto it = document_.find(section_name);
    if (it == document_.end()) return empty;
    if (!it->is_object()) throw cache_error(std::string(section_name) + ": expected an object, got " + it->type_name());
    return *it;
}

json& token_cache::mutable_entries(std::string_view section_name) {
    if (!document_.is_object()) throw cache_error("top level: expected an object, got " + std::string(document_.type_name()));
    auto it = document_.find(section_name);
    if (it == document_.end()) {
        auto& members = document_.get_ref<json::object_t&>();
        members.emplace_back(std::string(section_name), json::object());
        return members.back().second;
    }
    if (!it->is_object()) throw cache_error(std::string(section_name) + ": expected an object, got " + it->type_name());
    return *it;
}

bool token_cache::empty_of_entries() const {
    for (auto name : detail::known_sections) {
        if (!entries(name).empty()) return false;
    }
    return true;
}

std::string_view string_field(const json& entry, std::string_view name) {
    if (!entry.is_object()) return {};
    const auto it = entry.find(name);
    if (it == entry.end() || !it->is_string()) return {};
    return it->get_ref<const std::string&>();
}

std::optional<std::int64_t> epoch_field(const json& entry, std::string_view name) {
    if (!entry.is_object()) return std::nullopt;
    const auto it = entry.find(name);
    if (it == entry.end()) return std::nullopt;
    if (auto seconds = parse_epoch(*it)) return seconds;
    throw cache_error(std::string(name) + ": " + std::string(timestamp_expectation));
}

}  // namespace msalcache
