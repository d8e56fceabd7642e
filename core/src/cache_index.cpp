#include "cache_index.hpp"

#include <array>
#include <utility>

#include "internal.hpp"
#include "json_scanner.hpp"

namespace msalcache::detail {
namespace {

// The scanner recurses once per nesting level. parse_limits' default (64) is far below this; a larger max_depth
// takes the DOM path, whose parser does not recurse, so hostile nesting cannot exhaust this scanner's stack.
constexpr std::size_t max_recursion = 128;

// The entry fields whose string value partitioning, expiry, validation or describe() read: only these are decoded.
constexpr std::array<std::string_view, 15> read_fields = {
    "home_account_id", "environment", "realm", "credential_type", "client_id", "target", "userAssertionHash",
    "username", "local_account_id", "authority_type", "cached_at", "expires_on", "extended_expires_on",
    "refresh_on", "last_modification_time"};

bool is_read_field(std::string_view name) {
    for (auto field : read_fields) {
        if (name == field) return true;
    }
    return false;
}

// Walks the cache's structure (top level, known sections, entries) and indexes it; everything else is only scanned.
class cache_scanner : public json_scanner {
  public:
    using json_scanner::json_scanner;

    bool run(cache_index& index) {
        skip_whitespace();
        if (!at('{') || !top_level(index)) return false;
        skip_whitespace();
        return p_ == end_;
    }

  private:
    bool top_level(cache_index& index) {
        auto& light = index.light.get_ref<json::object_t&>();
        return object([&](std::string_view key, std::string_view key_text) {
            indexed_member member;
            member.key_text = key_text;
            json light_value;  // null: the core never reads an unknown section
            if (is_known_section(key)) {
                if (!at('{')) return false;  // the DOM path names the schema error
                member.is_section = true;
                light_value = json::object();
                if (!section(member, light_value.get_ref<json::object_t&>())) return false;
            } else if (!value()) {
                return false;
            }
            member.text = std::string_view(key_text.data(), static_cast<std::size_t>(p_ - key_text.data()));
            light.emplace_back(std::string(key), std::move(light_value));
            index.members.push_back(std::move(member));
            return true;
        });
    }

    bool section(indexed_member& member, json::object_t& entries) {
        return object([&](std::string_view key, std::string_view key_text) {
            if (!at('{')) return false;  // the DOM path names the schema error
            json entry = json::object();
            if (!entry_fields(entry.get_ref<json::object_t&>())) return false;
            entries.emplace_back(std::string(key), std::move(entry));
            member.entries.emplace_back(key_text.data(), static_cast<std::size_t>(p_ - key_text.data()));
            return true;
        });
    }

    bool entry_fields(json::object_t& fields) {
        fields.reserve(16);  // an msal entry has 5-12 fields: one allocation instead of one per doubling
        return object([&](std::string_view key, std::string_view) {
            json field;
            if (!light_value(is_read_field(key), field)) return false;
            fields.emplace_back(std::string(key), std::move(field));
            return true;
        });
    }

    // A field's value with its JSON type; a string's text only when `decode` (a secret is never copied).
    bool light_value(bool decode, json& out) {
        if (p_ == end_) return false;
        switch (*p_) {
            case '"': {
                std::string text;
                if (!string(decode ? &text : nullptr)) return false;
                out = std::move(text);
                return true;
            }
            case '{': out = json::object(); return value();
            case '[': out = json::array(); return value();
            case 't': out = true; return literal("true");
            case 'f': out = false; return literal("false");
            case 'n': out = nullptr; return literal("null");
            default: return number(&out);
        }
    }
};

}  // namespace

std::optional<cache_index> index_cache(std::string_view text, std::size_t max_depth) {
    if (max_depth > max_recursion) return std::nullopt;
    cache_index index;
    index.light = json::object();
    cache_scanner scan(text, max_depth);
    if (!scan.run(index)) return std::nullopt;
    return index;
}

std::optional<std::string> render(const std::vector<indexed_member>& members, const json& light, const json& kept) {
    if (!light.is_object() || !kept.is_object()) return std::nullopt;
    const auto& original = light.get_ref<const json::object_t&>();
    const auto& result = kept.get_ref<const json::object_t&>();
    if (original.size() != members.size() || result.size() != members.size()) return std::nullopt;

    std::size_t bytes = 2;
    for (const auto& member : members) bytes += member.text.size() + 1;
    std::string out;
    out.reserve(bytes);
    out += '{';
    auto original_it = original.begin();
    auto result_it = result.begin();
    for (const auto& member : members) {
        const auto& [name, value] = *original_it++;
        const auto& [kept_name, kept_value] = *result_it++;
        if (kept_name != name) return std::nullopt;
        if (&member != &members.front()) out += ',';
        if (!member.is_section) {
            out += member.text;
            continue;
        }
        if (!value.is_object() || !kept_value.is_object()) return std::nullopt;
        // restrict_to and expire keep a subsequence of the entries in order, and keys are unique: one merge pass.
        const auto& left = kept_value.get_ref<const json::object_t&>();
        out += member.key_text;
        out += ":{";
        auto next = left.begin();
        auto text = member.entries.begin();
        for (const auto& entry : value.get_ref<const json::object_t&>()) {
            if (next == left.end()) break;
            if (entry.first == next->first) {
                if (next != left.begin()) out += ',';
                out += *text;
                ++next;
            }
            ++text;
        }
        if (next != left.end()) return std::nullopt;
        out += '}';
    }
    out += '}';
    return out;
}

}  // namespace msalcache::detail
