#include "msalcache/three_way_merge.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "internal.hpp"
#include "key_spelling.hpp"

namespace msalcache {
namespace {

// Name -> value of an object's members. Sections can hold thousands of entries and ordered_json's find is linear,
// so every lookup the merge does goes through one of these (the views point into the inputs, which outlive it).
using member_index = std::unordered_map<std::string_view, const json*>;

member_index index_members(const json* object) {
    member_index index;
    if (object == nullptr) return index;
    const auto& members = object->get_ref<const json::object_t&>();
    index.reserve(members.size());
    for (const auto& [name, value] : members) index.emplace(name, &value);
    return index;
}

const json* find_in(const member_index& index, std::string_view name) {
    const auto it = index.find(name);
    return it == index.end() ? nullptr : it->second;
}

bool same_value(const json& a, const json& b);

// Objects as unordered sets of members: a writer that reorders an entry's fields has not changed the entry.
bool same_object(const json::object_t& a, const json::object_t& b) {
    if (a.size() != b.size()) return false;
    // Nearly always both sides come from msal and list the fields in one order: compare pairwise until they differ.
    auto x = a.begin();
    auto y = b.begin();
    for (; x != a.end() && x->first == y->first; ++x, ++y) {
        if (!same_value(x->second, y->second)) return false;
    }
    if (x == a.end()) return true;
    member_index rest;
    rest.reserve(static_cast<std::size_t>(b.end() - y));
    for (; y != b.end(); ++y) rest.emplace(y->first, &y->second);
    if (rest.size() != static_cast<std::size_t>(a.end() - x)) return false;  // a repeated name (hand-built document)
    for (; x != a.end(); ++x) {
        const json* other = find_in(rest, x->first);
        if (other == nullptr || !same_value(x->second, *other)) return false;
    }
    return true;
}

bool same_value(const json& a, const json& b) {
    if (a.is_object() && b.is_object()) {
        return same_object(a.get_ref<const json::object_t&>(), b.get_ref<const json::object_t&>());
    }
    if (a.is_array() && b.is_array()) {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (!same_value(a[i], b[i])) return false;
        }
        return true;
    }
    if (a.is_structured() || b.is_structured()) return false;
    return a == b;  // scalars: nlohmann compares numbers by value across integer/unsigned/float
}

// Absence is a value too: two absent entries are the same.
bool same(const json* a, const json* b) {
    if (a == nullptr || b == nullptr) return a == b;
    return same_value(*a, *b);
}

bool is_object_of_objects(const json* value) {
    if (value == nullptr || !value->is_object()) return false;
    for (const auto& [name, member] : value->get_ref<const json::object_t&>()) {
        if (!member.is_object()) return false;
    }
    return true;
}

// Rule 4 for two access tokens: whether theirs was issued later. An absent timestamp sorts first.
bool theirs_is_later(std::string_view section_name, std::string_view key, const json& mine, const json& theirs) {
    try {
        const auto order = [](const json& entry) {
            return std::pair{epoch_field(entry, "expires_on"), epoch_field(entry, "cached_at")};
        };
        return order(theirs) > order(mine);
    } catch (const cache_error& error) {
        throw cache_error(detail::entry_path(section_name, key) + "." + error.what());
    }
}

class merger {
  public:
    merge_report report;

    // One entry (or one whole unknown section): the value to keep, nullptr for none. Counts the decision.
    const json* decide(std::string_view section_name, std::string_view key, const json* base, const json* mine,
                       const json* theirs) {
        // Agreement first: it is the common case, and both copies are equal, so theirs keeps the stored bytes.
        if (same(mine, theirs)) return theirs != nullptr ? theirs : mine;
        const json* result = nullptr;
        bool from_mine = false;
        if (same(mine, base)) {
            result = theirs;
        } else if (same(theirs, base)) {
            result = mine;
            from_mine = true;
        } else {
            ++report.conflicts;
            if (mine == nullptr) {
                result = theirs;
            } else if (theirs == nullptr) {
                result = mine;
                from_mine = true;
            } else if (section_name == section::access_token && theirs_is_later(section_name, key, *mine, *theirs)) {
                result = theirs;
            } else {
                result = mine;
                from_mine = true;
            }
        }
        if (result == nullptr) {
            ++report.removed;
        } else if (from_mine) {
            ++report.taken_mine;
        } else {
            ++report.taken_theirs;
        }
        return result;
    }

    // A known section, credential by credential (credential_keys.hpp): the same credential under two spellings, on
    // one side or across sides, is one entry, stored under msal-node 7's key. Otherwise as merge_entries.
    void merge_credentials(detail::entry_kind kind, std::string_view section_name, const json* base,
                           const json* mine, const json* theirs, json::object_t& out) {
        rekey_report ignored;  // the merge reports what it decided, not how entries were spelled
        const auto group = [&](const json* section) {
            return section == nullptr ? std::vector<detail::credential_group>{}
                                      : detail::group_entries(kind, *section, ignored);
        };
        const auto base_groups = group(base);
        const auto mine_groups = group(mine);
        const auto theirs_groups = group(theirs);
        using group_index = std::unordered_map<std::string_view, const detail::placed_entry*>;
        const auto index = [](const std::vector<detail::credential_group>& groups) {
            group_index by_id;
            by_id.reserve(groups.size());
            for (const auto& g : groups) by_id.emplace(g.id, &g.entry);
            return by_id;
        };
        const auto base_index = index(base_groups);
        const auto mine_index = index(mine_groups);
        const auto theirs_index = index(theirs_groups);
        const auto find = [](const group_index& by_id, std::string_view id) -> const detail::placed_entry* {
            const auto it = by_id.find(id);
            return it == by_id.end() ? nullptr : it->second;
        };
        std::vector<detail::placed_entry> kept;
        std::vector<bool> kept_mine;  // whether kept[i] is mine's value (or both sides')
        const auto merge_one = [&](const detail::placed_entry* b, const detail::placed_entry* m,
                                   const detail::placed_entry* t) {
            const auto value = [](const detail::placed_entry* e) { return e == nullptr ? nullptr : e->value; };
            const auto key = (t != nullptr ? t : m)->original_key;
            const json* result = decide(section_name, key, value(b), value(m), value(t));
            if (result == nullptr) return;
            auto entry = *(result == value(t) ? t : m);
            // Which side's key and hash an agreed entry carries must not depend on which side is mine (they only
            // matter when keys clash, and the merge is symmetric without conflicts): the smaller of the two.
            const auto smaller = [](std::string_view a, std::string_view b) {
                return a.empty() ? b : b.empty() ? a : std::min(a, b);
            };
            if (m != nullptr && t != nullptr && same(m->value, t->value)) {
                entry.original_key = std::min(m->original_key, t->original_key);
                entry.components_hash = smaller(m->components_hash, t->components_hash);
            }
            if (entry.components_hash.empty()) {  // one credential, one components hash: any side's serves
                const auto hash = [](const detail::placed_entry* e) { return e ? e->components_hash : ""; };
                entry.components_hash = smaller(smaller(hash(t), hash(m)), hash(b));
            }
            kept.push_back(entry);
            kept_mine.push_back(t == nullptr || result != value(t));
        };
        for (const auto& g : theirs_groups) merge_one(find(base_index, g.id), find(mine_index, g.id), &g.entry);
        for (const auto& g : mine_groups) {
            if (find(theirs_index, g.id) == nullptr) merge_one(find(base_index, g.id), &g.entry, nullptr);
        }
        const auto keys = detail::assign_keys(kind, kept, key_spelling::msal_node, ignored);
        std::unordered_map<std::string_view, std::size_t> holder;  // key -> index in kept
        for (std::size_t i = 0; i < kept.size(); ++i) {
            if (keys[i]) holder.emplace(*keys[i], i);
        }
        // Two different credentials under one key on the two sides (keys that no longer spell their fields, e.g. a
        // userAssertionHash msal-node does not key): one key holds one entry, decided as a conflict on that key.
        for (std::size_t i = 0; i < kept.size(); ++i) {
            if (keys[i]) continue;
            auto& j = holder.at(kept[i].original_key);
            ++report.conflicts;
            ++report.key_clashes;
            const std::size_t mine_i = kept_mine[i] ? i : j;
            const std::size_t theirs_i = kept_mine[i] ? j : i;
            const bool theirs_wins = kind == detail::entry_kind::access_token &&
                                     theirs_is_later(section_name, kept[i].original_key, *kept[mine_i].value,
                                                     *kept[theirs_i].value);
            j = theirs_wins ? theirs_i : mine_i;
        }
        for (std::size_t i = 0; i < kept.size(); ++i) {
            if (!keys[i]) continue;
            const auto& placed = kept[holder.at(*keys[i])];
            json entry = *placed.value;
            // Stored as rekey(msal_node) stores it.
            if (placed.recognised) detail::store_environment(kind, entry, *keys[i], placed.components_hash);
            out.emplace_back(*keys[i], std::move(entry));
        }
    }

    // A section whose three values are objects of objects (nullptr: absent, no entries), entry by entry, into out:
    // theirs' entries in theirs' order, then those only in mine in mine's order.
    void merge_entries(std::string_view section_name, const json* base, const json* mine, const json* theirs,
                       json::object_t& out) {
        const auto base_index = index_members(base);
        const auto mine_index = index_members(mine);
        if (theirs != nullptr) {
            for (const auto& [key, value] : theirs->get_ref<const json::object_t&>()) {
                const json* kept =
                    decide(section_name, key, find_in(base_index, key), find_in(mine_index, key), &value);
                if (kept != nullptr) out.emplace_back(key, *kept);
            }
        }
        if (mine == nullptr) return;
        const auto theirs_index = index_members(theirs);
        for (const auto& [key, value] : mine->get_ref<const json::object_t&>()) {
            if (find_in(theirs_index, key) != nullptr) continue;
            const json* kept = decide(section_name, key, find_in(base_index, key), &value, nullptr);
            if (kept != nullptr) out.emplace_back(key, *kept);
        }
    }
};

const json::object_t& top_level(const token_cache& cache, std::string_view role) {
    if (!cache.document().is_object()) {
        throw cache_error(std::string(role) + ": top level: expected an object, got " + cache.document().type_name());
    }
    return cache.document().get_ref<const json::object_t&>();
}

// A known section's entries, nullptr when absent; token_cache::entries throws when it is not an object.
const json* known_section(const token_cache& cache, const member_index& top, std::string_view name) {
    return find_in(top, name) != nullptr ? &cache.entries(name) : nullptr;
}

}  // namespace

merge_result merge_three_way(const token_cache& base, const token_cache& mine, const token_cache& theirs) {
    const auto& theirs_top = top_level(theirs, "theirs");
    const auto& mine_top = top_level(mine, "mine");
    top_level(base, "base");
    const auto base_index = index_members(&base.document());
    const auto mine_index = index_members(&mine.document());
    const auto theirs_index = index_members(&theirs.document());

    // Sections in theirs' order, then the ones only mine has, in mine's order.
    std::vector<std::string_view> names;
    names.reserve(theirs_top.size() + mine_top.size());
    for (const auto& member : theirs_top) names.emplace_back(member.first);
    for (const auto& member : mine_top) {
        if (find_in(theirs_index, member.first) == nullptr) names.emplace_back(member.first);
    }

    merge_result result;
    merger merge;
    auto& out = result.cache.document().get_ref<json::object_t&>();
    for (const auto name : names) {
        if (detail::is_known_section(name)) {
            // Kept even when empty: the name came from mine or theirs, and msal writes every known section.
            json entries = json::object();
            merge.merge_credentials(*detail::entry_kind_of(name), name, known_section(base, base_index, name),
                                    known_section(mine, mine_index, name), known_section(theirs, theirs_index, name),
                                    entries.get_ref<json::object_t&>());
            out.emplace_back(std::string(name), std::move(entries));
            continue;
        }
        const json* base_value = find_in(base_index, name);
        const json* mine_value = find_in(mine_index, name);
        const json* theirs_value = find_in(theirs_index, name);
        if (is_object_of_objects(mine_value) && is_object_of_objects(theirs_value) &&
            (base_value == nullptr || is_object_of_objects(base_value))) {
            json entries = json::object();
            merge.merge_entries(name, base_value, mine_value, theirs_value, entries.get_ref<json::object_t&>());
            out.emplace_back(std::string(name), std::move(entries));
        } else if (const json* kept = merge.decide(name, name, base_value, mine_value, theirs_value)) {
            out.emplace_back(std::string(name), *kept);
        }
    }
    result.report = merge.report;
    return result;
}

}  // namespace msalcache
