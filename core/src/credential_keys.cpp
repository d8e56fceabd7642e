#include "msalcache/credential_keys.hpp"

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "internal.hpp"
#include "key_spelling.hpp"
#include "owned_steps.hpp"

namespace msalcache {
namespace detail {
namespace {

// Of two entries for one credential in one cache, whether the later one (in document order) is kept: an access token
// by expires_on then cached_at, as the three-way merge decides (an unreadable timestamp counts as earliest, since
// rekey also runs on hand-built documents); for a tie and every other kind, the later one, which is the one its
// writer added last.
bool later_replaces(entry_kind kind, const json& earlier, const json& later) {
    if (kind != entry_kind::access_token) return true;
    const auto order = [](const json& entry) {
        const auto read = [&](const char* name) {
            const auto it = entry.find(name);
            return it == entry.end() ? std::nullopt : parse_epoch(*it);
        };
        return std::pair{read("expires_on"), read("cached_at")};
    };
    return !(order(earlier) > order(later));
}

}  // namespace

std::vector<credential_group> group_entries(entry_kind kind, const json& section, rekey_report& report) {
    std::vector<credential_group> groups;
    std::unordered_map<std::string, std::size_t> by_id;
    groups.reserve(section.size());
    for (auto it = section.begin(); it != section.end(); ++it) {
        const std::string_view key = it.key();
        const json& value = it.value();
        std::optional<std::string_view> hash;
        key_fields fields;
        if (value.is_object()) {
            fields = key_fields_of(value);
            hash = recognise(kind, fields, key);
        }
        if (!hash) {
            ++report.unrecognised;
            groups.push_back({"k" + std::string(key), placed_entry{key, &value, false, {}}});
            continue;
        }
        auto id = "c" + identity(kind, fields, value);
        const auto [found, added] = by_id.emplace(id, groups.size());
        if (added) {
            groups.push_back({std::move(id), placed_entry{key, &value, true, *hash}});
            continue;
        }
        ++report.collapsed;
        auto& kept = groups[found->second].entry;
        // One credential has one components value, so either entry's msal-node hash serves the one kept.
        const auto known_hash = hash->empty() ? kept.components_hash : *hash;
        if (later_replaces(kind, *kept.value, value)) kept = placed_entry{key, &value, true, known_hash};
        kept.components_hash = known_hash;
    }
    return groups;
}

std::vector<std::optional<std::string>> assign_keys(entry_kind kind, const std::vector<placed_entry>& entries,
                                                    key_spelling spelling, rekey_report& report) {
    const std::size_t n = entries.size();
    std::vector<std::string> wanted(n);
    std::vector<bool> moves(n, false);
    for (std::size_t i = 0; i < n; ++i) {
        const auto& entry = entries[i];
        wanted[i] = std::string(entry.original_key);
        if (!entry.recognised) continue;
        auto key = spell(kind, key_fields_of(*entry.value), spelling, entry.components_hash);
        if (key && *key != entry.original_key) {
            wanted[i] = std::move(*key);
            moves[i] = true;
        }
    }
    // A key wanted by two entries goes to neither mover: each keeps its own (which may contest another's wish in
    // turn, hence the loop; it ends since entries only stop moving). Keys that were never spelled keep priority.
    for (bool changed = true; changed;) {
        changed = false;
        std::unordered_map<std::string, std::size_t> wishes;
        for (const auto& key : wanted) ++wishes[key];
        for (std::size_t i = 0; i < n; ++i) {
            if (moves[i] && wishes[wanted[i]] > 1) {
                wanted[i] = std::string(entries[i].original_key);
                moves[i] = false;
                changed = true;
            }
        }
    }
    std::vector<std::optional<std::string>> keys(n);
    std::unordered_set<std::string> used;
    for (std::size_t i = 0; i < n; ++i) {
        // Only entries from different caches (the merge's sides) can still want one key: the first keeps it.
        if (!used.insert(wanted[i]).second) {
            ++report.dropped;
            continue;
        }
        if (moves[i]) ++report.rekeyed;
        keys[i] = std::move(wanted[i]);
    }
    return keys;
}

}  // namespace detail

namespace {

// rekey's body. `movable`: the caller owns `cache` and discards it, so kept values are moved out of it (each is
// kept once: collapsed duplicates are left behind), else copied.
token_cache rekey_from(const token_cache& cache, bool movable, key_spelling spelling, rekey_report* report) {
    if (!cache.document().is_object()) {
        throw cache_error(std::string("top level: expected an object, got ") + cache.document().type_name());
    }
    const auto take = [movable](const json& value) {
        return movable ? json(std::move(const_cast<json&>(value))) : json(value);
    };
    rekey_report counts;
    token_cache out;
    auto& members = out.document().get_ref<json::object_t&>();
    for (const auto& [name, value] : cache.document().get_ref<const json::object_t&>()) {
        const auto kind = detail::entry_kind_of(name);
        if (!kind || !value.is_object()) {
            members.emplace_back(name, take(value));
            continue;
        }
        const auto groups = detail::group_entries(*kind, value, counts);
        std::vector<detail::placed_entry> placed;
        placed.reserve(groups.size());
        for (const auto& group : groups) placed.push_back(group.entry);
        const auto keys = detail::assign_keys(*kind, placed, spelling, counts);
        json section = json::object();
        auto& entries = section.get_ref<json::object_t&>();
        for (std::size_t i = 0; i < placed.size(); ++i) {
            if (!keys[i]) continue;
            json entry = take(*placed[i].value);
            if (spelling == key_spelling::msal_node && placed[i].recognised) {
                detail::store_environment(*kind, entry, *keys[i], placed[i].components_hash);
            }
            entries.emplace_back(*keys[i], std::move(entry));
        }
        members.emplace_back(name, std::move(section));
    }
    if (report != nullptr) *report = counts;
    return out;
}

}  // namespace

token_cache rekey(const token_cache& cache, key_spelling spelling, rekey_report* report) {
    return rekey_from(cache, false, spelling, report);
}

token_cache detail::rekey_owned(token_cache&& cache, key_spelling spelling, rekey_report* report) {
    return rekey_from(cache, true, spelling, report);
}

std::string rekey_json(std::string_view text, key_spelling spelling, const parse_limits& limits) {
    return rekey(token_cache::parse(text, limits), spelling).dump();
}

std::optional<std::string> credential_identity(std::string_view section_name, std::string_view key, const json& entry) {
    const auto kind = detail::entry_kind_of(section_name);
    if (!kind || !entry.is_object()) return std::nullopt;
    const auto fields = detail::key_fields_of(entry);
    if (!detail::recognise(*kind, fields, key)) return std::nullopt;
    return detail::identity(*kind, fields, entry);
}

std::optional<std::string> spell_key(std::string_view section_name, const json& entry, key_spelling spelling,
                                     std::string_view current_key) {
    const auto kind = detail::entry_kind_of(section_name);
    if (!kind || !entry.is_object()) return std::nullopt;
    const auto fields = detail::key_fields_of(entry);
    const auto hash = current_key.empty() ? std::nullopt : detail::recognise(*kind, fields, current_key);
    return detail::spell(*kind, fields, spelling, hash.value_or(std::string_view()));
}

}  // namespace msalcache
