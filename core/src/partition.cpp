#include "msalcache/partition.hpp"

#include <algorithm>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "internal.hpp"
#include "owned_steps.hpp"

namespace msalcache {
namespace {

constexpr std::string_view account_prefix = "account:";
constexpr std::string_view app_prefix = "app:";
constexpr std::string_view assertion_prefix = "obo:";

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

void sort_unique(std::vector<partition_id>& ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

// Decides which partitions an entry belongs to. Account and IdToken entries may belong to several: their own
// account partition and every assertion partition whose credentials name the same home account (an on-behalf-of
// partition needs the user's account to be usable).
class router {
  public:
    explicit router(const token_cache& cache) {
        for (auto name : {section::id_token, section::access_token, section::refresh_token}) {
            const json& entries = cache.entries(name);
            for (auto it = entries.begin(); it != entries.end(); ++it) {
                auto id = partition_of_credential(*it);
                if (id.kind != partition_kind::assertion) continue;
                auto& names = assertions_by_home_[std::string(string_field(*it, "home_account_id"))];
                if (std::find(names.begin(), names.end(), id.value) == names.end()) names.push_back(id.value);
            }
        }
    }

    // The partitions of an entry of a known section other than AppMetadata; sorted, without duplicates.
    std::vector<partition_id> targets(std::string_view section_name, const json& entry) const {
        std::vector<partition_id> out;
        const auto home = string_field(entry, "home_account_id");
        if (section_name == section::account) {
            out.push_back({partition_kind::account, std::string(home)});
        } else {
            out.push_back(partition_of_credential(entry));
            if (section_name != section::id_token) return out;
            if (!home.empty()) out.push_back({partition_kind::account, std::string(home)});
        }
        if (const auto it = assertions_by_home_.find(std::string(home)); it != assertions_by_home_.end()) {
            for (const auto& value : it->second) out.push_back({partition_kind::assertion, value});
        }
        sort_unique(out);
        return out;
    }

  private:
    std::unordered_map<std::string, std::vector<std::string>> assertions_by_home_;
};

// The known sections whose entries are routed; AppMetadata follows the credentials instead.
bool is_routed_section(std::string_view name) {
    return detail::is_known_section(name) && name != section::app_metadata;
}

const json::object_t& top_level(const token_cache& cache) {
    if (!cache.document().is_object()) {
        throw cache_error(std::string("top level: expected an object, got ") + cache.document().type_name());
    }
    return cache.document().get_ref<const json::object_t&>();
}

json::object_t& section_of(token_cache& cache, const std::string& name) {
    return cache.mutable_entries(name).get_ref<json::object_t&>();
}

}  // namespace

std::string partition_id::to_string() const {
    switch (kind) {
        case partition_kind::account: return std::string(account_prefix) + value;
        case partition_kind::app_tenant: return std::string(app_prefix) + value;
        case partition_kind::assertion: return std::string(assertion_prefix) + value;
    }
    throw cache_error("partition_id: unknown kind");
}

partition_id partition_id::from_string(std::string_view text) {
    for (auto [prefix, kind] : {std::pair{account_prefix, partition_kind::account},
                                std::pair{app_prefix, partition_kind::app_tenant},
                                std::pair{assertion_prefix, partition_kind::assertion}}) {
        if (starts_with(text, prefix)) return {kind, std::string(text.substr(prefix.size()))};
    }
    throw cache_error("partition id " + detail::json_literal(text) + ": expected a prefix account:, app: or obo:");
}

partition_id partition_of_credential(const json& entry) {
    if (const auto hash = string_field(entry, "userAssertionHash"); !hash.empty()) {
        return {partition_kind::assertion, std::string(hash)};
    }
    if (const auto home = string_field(entry, "home_account_id"); !home.empty()) {
        return {partition_kind::account, std::string(home)};
    }
    return {partition_kind::app_tenant, std::string(string_field(entry, "realm"))};
}

std::vector<partition_id> partitions_in(const token_cache& cache) {
    const router route(cache);
    std::vector<partition_id> ids;
    for (const auto& [name, entries] : top_level(cache)) {
        if (!is_routed_section(name)) continue;
        for (const auto& entry : cache.entries(name)) {
            for (auto& id : route.targets(name, entry)) ids.push_back(std::move(id));
        }
    }
    sort_unique(ids);
    return ids;
}

namespace {

// restrict_to's body. `movable`: the caller owns `cache` and discards it, so kept entries are moved out of it (the
// router keeps copies of what it reads, and a credential's client id is read before it moves).
restrict_result restrict_from(const token_cache& cache, bool movable, const std::vector<partition_id>& allowed) {
    const auto take = [movable](const json& value) {
        return movable ? json(std::move(const_cast<json&>(value))) : json(value);
    };
    const std::set<partition_id> allow(allowed.begin(), allowed.end());
    const router route(cache);
    restrict_result result;
    std::set<std::string> dropped_homes;
    std::unordered_set<std::string> kept_clients;

    // Sections are copied in document order; AppMetadata is filled last since it depends on every credential.
    for (const auto& [name, value] : top_level(cache)) {
        if (!is_routed_section(name)) {
            result.cache.document()[name] = name == section::app_metadata ? json::object() : take(value);
            continue;
        }
        auto& kept = section_of(result.cache, name);
        const json& entries = cache.entries(name);
        for (auto it = entries.begin(); it != entries.end(); ++it) {
            const auto targets = route.targets(name, *it);
            const bool keep = std::any_of(targets.begin(), targets.end(),
                                          [&](const partition_id& id) { return allow.count(id) != 0; });
            if (!keep) {
                ++result.dropped_entries;
                dropped_homes.emplace(string_field(*it, "home_account_id"));
                continue;
            }
            if (detail::is_credential_section(name)) kept_clients.emplace(string_field(*it, "client_id"));
            kept.emplace_back(it.key(), take(*it));
        }
    }
    const json& metadata = cache.entries(section::app_metadata);
    if (cache.document().contains(section::app_metadata)) {
        auto& kept = section_of(result.cache, std::string(section::app_metadata));
        for (auto it = metadata.begin(); it != metadata.end(); ++it) {
            if (kept_clients.count(std::string(string_field(*it, "client_id"))) != 0) {
                kept.emplace_back(it.key(), take(*it));
            }
        }
    }
    result.dropped_home_account_ids.assign(dropped_homes.begin(), dropped_homes.end());
    return result;
}

}  // namespace

restrict_result restrict_to(const token_cache& cache, const std::vector<partition_id>& allowed) {
    return restrict_from(cache, false, allowed);
}

restrict_result detail::restrict_owned(token_cache&& cache, const std::vector<partition_id>& allowed) {
    return restrict_from(cache, true, allowed);
}

std::vector<std::pair<partition_id, token_cache>> split(const token_cache& cache) {
    // One pass over the entries, each copied into the partitions router::targets names: the same answer as calling
    // restrict_to once per partition, without reading the whole cache once per partition.
    const auto& top = top_level(cache);
    const auto ids = partitions_in(cache);
    const router route(cache);

    std::vector<std::pair<partition_id, token_cache>> parts;
    parts.reserve(ids.size());
    for (const auto& id : ids) {
        token_cache part;
        for (const auto& [name, value] : top) {
            part.document()[name] = detail::is_known_section(name) ? json::object() : value;
        }
        parts.emplace_back(id, std::move(part));
    }
    const auto index_of = [&](const partition_id& id) {
        return static_cast<std::size_t>(std::lower_bound(ids.begin(), ids.end(), id) - ids.begin());
    };

    std::vector<std::unordered_set<std::string>> kept_clients(ids.size());
    for (const auto& [name, value] : top) {
        if (!is_routed_section(name)) continue;
        const json& entries = cache.entries(name);
        for (auto it = entries.begin(); it != entries.end(); ++it) {
            for (const auto& id : route.targets(name, *it)) {
                const auto index = index_of(id);
                section_of(parts[index].second, name).emplace_back(it.key(), *it);
                if (detail::is_credential_section(name)) kept_clients[index].emplace(string_field(*it, "client_id"));
            }
        }
    }
    const json& metadata = cache.entries(section::app_metadata);
    for (std::size_t index = 0; index < parts.size(); ++index) {
        for (auto it = metadata.begin(); it != metadata.end(); ++it) {
            if (kept_clients[index].count(std::string(string_field(*it, "client_id"))) == 0) continue;
            section_of(parts[index].second, std::string(section::app_metadata)).emplace_back(it.key(), *it);
        }
    }
    return parts;
}

token_cache merge(const std::vector<token_cache>& partitions) {
    token_cache merged;
    auto& out = merged.document().get_ref<json::object_t&>();

    for (auto name : detail::known_sections) {
        const bool present = std::any_of(partitions.begin(), partitions.end(), [&](const token_cache& part) {
            return top_level(part).find(std::string(name)) != top_level(part).end();
        });
        if (!present) continue;
        auto& entries = section_of(merged, std::string(name));
        // Keys point into the inputs, which outlive this function; a map keeps the union linear in the entries.
        std::unordered_map<std::string_view, const json*> seen;
        for (const auto& part : partitions) {
            const json& source = part.entries(name);
            for (auto it = source.begin(); it != source.end(); ++it) {
                const auto [where, inserted] = seen.emplace(it.key(), &*it);
                if (inserted) {
                    entries.emplace_back(it.key(), *it);
                } else if (*where->second != *it) {
                    // ordered_json compares objects field by field in order: msal always writes them in one order.
                    throw cache_error(detail::entry_path(name, it.key()) + ": partitions hold different values");
                }
            }
        }
    }
    for (const auto& part : partitions) {
        for (const auto& [name, value] : top_level(part)) {
            if (detail::is_known_section(name) || merged.document().contains(name)) continue;
            out.emplace_back(name, value);
        }
    }
    return merged;
}

}  // namespace msalcache
