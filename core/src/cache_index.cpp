#include "cache_index.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "internal.hpp"
#include "json_scanner.hpp"
#include "key_spelling.hpp"

namespace msalcache::detail {
namespace {

// The scanner recurses once per nesting level. parse_limits' default (64) is far below this; a larger max_depth
// takes the DOM path, whose parser does not recurse, so hostile nesting cannot exhaust this scanner's stack.
constexpr std::size_t max_recursion = 128;

enum class section_kind : std::uint8_t { none, account, id_token, access_token, refresh_token, app_metadata };

// section_kind lists entry_kind's kinds in the same order, after none.
static_assert(static_cast<int>(section_kind::account) - 1 == static_cast<int>(entry_kind::account) &&
                  static_cast<int>(section_kind::app_metadata) - 1 == static_cast<int>(entry_kind::app_metadata),
              "section_kind is entry_kind plus none, first");

section_kind kind_of_section(std::string_view name) {
    const auto kind = entry_kind_of(name);
    return kind ? static_cast<section_kind>(static_cast<int>(*kind) + 1) : section_kind::none;
}

// The entry fields that validate_document checks or that partitioning and expiry read; every other field is only
// scanned. The five timestamps are last.
enum class field_id : std::uint8_t {
    home_account_id, environment, realm, credential_type, client_id, secret, target, user_assertion_hash,
    family_id, token_type, components,
    cached_at, expires_on, extended_expires_on, refresh_on, last_modification_time, other
};

constexpr std::uint16_t bit(field_id field) { return static_cast<std::uint16_t>(1u << static_cast<unsigned>(field)); }
constexpr bool is_timestamp(field_id field) { return field >= field_id::cached_at && field != field_id::other; }

field_id classify(std::string_view name) {
    switch (name.size()) {
        case 5: if (same_text(name, "realm")) return field_id::realm; break;
        case 6:
            if (same_text(name, "secret")) return field_id::secret;
            if (same_text(name, "target")) return field_id::target;
            break;
        case 9:
            if (same_text(name, "client_id")) return field_id::client_id;
            if (same_text(name, "cached_at")) return field_id::cached_at;
            if (same_text(name, "family_id")) return field_id::family_id;
            break;
        case 10:
            if (same_text(name, "expires_on")) return field_id::expires_on;
            if (same_text(name, "refresh_on")) return field_id::refresh_on;
            if (same_text(name, "token_type")) return field_id::token_type;
            break;
        case 11: if (same_text(name, "environment")) return field_id::environment; break;
        case 15:
            if (same_text(name, "home_account_id")) return field_id::home_account_id;
            if (same_text(name, "credential_type")) return field_id::credential_type;
            break;
        case 17: if (same_text(name, "userAssertionHash")) return field_id::user_assertion_hash; break;
        case 19: if (same_text(name, "extended_expires_on")) return field_id::extended_expires_on; break;
        case 22: if (same_text(name, "last_modification_time")) return field_id::last_modification_time; break;
        case 28: if (same_text(name, "additionalCacheKeyComponents")) return field_id::components; break;
        default: break;
    }
    return field_id::other;
}


// What the core reads of one entry of a known section. The strings are decoded values as string_field reads them:
// "" when the field is absent or not a string. key_fields: what the entry's msal-node 7 key is spelled from.
struct light_entry : key_fields {
    std::string_view text;  // the entry's key, colon and value as written
    std::string_view key;   // decoded
    std::string_view user_assertion_hash;
    std::optional<std::int64_t> expires_on;  // epoch_field(entry, "expires_on"); a present one is valid
    bool kept = true;                        // still in the cache after restrict_to and expire
};

struct indexed_member {
    std::string_view key_text;  // the key as written, quotes included
    std::string_view text;      // key, colon and value as written
    section_kind kind = section_kind::none;
    std::size_t first = 0;  // a known section's entries: cache_index::entries[first, last)
    std::size_t last = 0;
};

struct cache_index {
    std::vector<indexed_member> members;  // the top-level members, in order
    std::vector<light_entry> entries;     // the known sections' entries, section by section, in order
    std::deque<std::string> decoded;      // field values that held escapes, decoded (a deque: views stay valid)
};

// Walks the cache's structure (top level, known sections, entries) and indexes it; everything else is only scanned.
// Applies validate_document's checks to every entry as it closes: false wherever token_cache::parse would throw.
class cache_scanner : public json_scanner {
  public:
    cache_scanner(std::string_view text, std::size_t max_depth, cache_index& index)
        : json_scanner(text, max_depth), index_(index) {}

    bool run() {
        skip_whitespace();
        if (!at('{') || !top_level()) return false;
        skip_whitespace();
        return p_ == end_;
    }

  private:
    bool top_level() {
        return object([&](std::string_view key, std::string_view key_text) {
            indexed_member member;
            member.key_text = key_text;
            member.kind = kind_of_section(key);
            if (member.kind != section_kind::none) {
                if (!at('{')) return false;  // the DOM path names the schema error
                member.first = index_.entries.size();
                if (!section(member.kind)) return false;
                member.last = index_.entries.size();
            } else if (!value()) {
                return false;
            }
            member.text = std::string_view(key_text.data(), static_cast<std::size_t>(p_ - key_text.data()));
            index_.members.push_back(member);
            return true;
        });
    }

    bool section(section_kind kind) {
        return object([&](std::string_view key, std::string_view key_text) {
            if (!at('{')) return false;  // the DOM path names the schema error
            light_entry entry;
            entry.key = key;
            // A key with escapes is decoded into the scanner, which does not outlive the scan: keep a copy.
            if (key.data() < key_text.data() || key.data() >= key_text.data() + key_text.size()) {
                entry.key = index_.decoded.emplace_back(key);
            }
            if (!entry_fields(kind, entry)) return false;
            entry.text = std::string_view(key_text.data(), static_cast<std::size_t>(p_ - key_text.data()));
            index_.entries.push_back(entry);
            return true;
        });
    }

    static std::string_view* decoded_slot(light_entry& entry, field_id field) {
        switch (field) {
            case field_id::home_account_id: return &entry.home_account_id;
            case field_id::realm: return &entry.realm;
            case field_id::client_id: return &entry.client_id;
            case field_id::user_assertion_hash: return &entry.user_assertion_hash;
            case field_id::environment: return &entry.environment;
            case field_id::credential_type: return &entry.credential_type;
            case field_id::target: return &entry.target;
            case field_id::family_id: return &entry.family_id;
            case field_id::token_type: return &entry.token_type;
            default: return nullptr;
        }
    }

    bool entry_fields(section_kind kind, light_entry& entry) {
        std::uint16_t strings = 0;  // fields present with a string value
        std::uint16_t present = 0;  // fields present, any type
        const bool scanned = object([&](std::string_view key, std::string_view) {
            const field_id field = classify(key);
            if (field == field_id::other) return value();
            if (field == field_id::components) return components(entry);
            present |= bit(field);
            if (at('"')) {
                strings |= bit(field);
                std::string_view* slot = decoded_slot(entry, field);
                if (slot == nullptr && !is_timestamp(field)) return string(nullptr);  // a secret is never copied
                std::string_view text;
                if (!string_value(text, index_.decoded)) return false;
                if (slot != nullptr) {
                    *slot = text;
                    return true;
                }
                return timestamp(field, detail::parse_epoch_text(text), entry);
            }
            if (is_timestamp(field)) {
                json number;  // anything but an integer is an invalid timestamp; number() rejects a non-number
                return this->number(&number) && timestamp(field, parse_epoch(number), entry);
            }
            // userAssertionHash must be a string.
            return field != field_id::user_assertion_hash && value();
        });
        return scanned && satisfies_schema(kind, entry, strings, present);
    }

    // key_fields::has_components as key_fields_of decides it: an object with a member.
    bool components(light_entry& entry) {
        const bool object = at('{');
        const char* start = p_;
        if (!value()) return false;
        if (object) {
            const std::string_view inside(start + 1, static_cast<std::size_t>(p_ - start) - 2);
            entry.has_components = inside.find_first_not_of(" \t\n\r") != std::string_view::npos;
        }
        return true;
    }

    // Every timestamp field, wherever it appears in a known section, must be a valid epoch.
    static bool timestamp(field_id field, std::optional<std::int64_t> seconds, light_entry& entry) {
        if (!seconds) return false;
        if (field == field_id::expires_on) entry.expires_on = seconds;
        return true;
    }

    // validate_entry's required fields.
    static bool satisfies_schema(section_kind kind, const light_entry& entry, std::uint16_t strings,
                                 std::uint16_t present) {
        const auto has_strings = [strings](std::uint16_t fields) { return (strings & fields) == fields; };
        switch (kind) {
            case section_kind::account:
                // An account without a home id could not be told apart from app tokens.
                return has_strings(bit(field_id::home_account_id) | bit(field_id::environment) | bit(field_id::realm)) &&
                       !entry.home_account_id.empty();
            case section_kind::app_metadata:
                return has_strings(bit(field_id::client_id) | bit(field_id::environment));
            default:
                break;
        }
        if (!has_strings(bit(field_id::home_account_id) | bit(field_id::environment) | bit(field_id::credential_type) |
                         bit(field_id::client_id) | bit(field_id::secret))) {
            return false;
        }
        if (kind == section_kind::refresh_token) return true;
        if (!has_strings(bit(field_id::realm))) return false;
        if (kind == section_kind::id_token) return true;
        const std::uint16_t times = bit(field_id::cached_at) | bit(field_id::expires_on);
        return has_strings(bit(field_id::target)) && (present & times) == times;
    }

    cache_index& index_;
};

// Ordering of decoded views, eight bytes at a time (see same_text). Byte order is std::string's (unsigned bytes), so
// sorted output is the same as the DOM path's std::set<std::string>.
bool text_less(std::string_view a, std::string_view b) {
    const std::size_t n = std::min(a.size(), b.size());
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t u = 0, v = 0;
        std::memcpy(&u, a.data() + i, 8);
        std::memcpy(&v, b.data() + i, 8);
        if (u != v) break;
    }
    for (; i < n; ++i) {
        const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
        if (x != y) return x < y;
    }
    return a.size() < b.size();
}

// Sorted, without duplicates. Ids repeat in runs (every entry of a user partition has the same home account id):
// a run collapses before the sort.
void sort_unique(std::vector<std::string_view>& values) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (kept == 0 || !same_text(values[kept - 1], values[i])) values[kept++] = values[i];
    }
    values.resize(kept);
    std::sort(values.begin(), values.end(), text_less);
    values.erase(std::unique(values.begin(), values.end(), same_text), values.end());
}

bool contains(const std::vector<std::string_view>& sorted, std::string_view value) {
    const auto it = std::lower_bound(sorted.begin(), sorted.end(), value, text_less);
    return it != sorted.end() && same_text(*it, value);
}

std::vector<std::string> to_strings(const std::vector<std::string_view>& values) {
    return std::vector<std::string>(values.begin(), values.end());
}

// The allowed partition ids; looked up linearly while few (the usual one or two), by binary search otherwise.
class allowed_ids {
  public:
    explicit allowed_ids(const std::vector<partition_id>& ids) {
        ids_.reserve(ids.size());
        for (const auto& id : ids) ids_.emplace_back(id.kind, std::string_view(id.value));
        std::sort(ids_.begin(), ids_.end(), id_less);
    }

    bool contains(partition_kind kind, std::string_view value) const {
        if (ids_.size() <= 8) {
            return std::any_of(ids_.begin(), ids_.end(),
                               [&](const auto& id) { return id.first == kind && same_text(id.second, value); });
        }
        const auto it = std::lower_bound(ids_.begin(), ids_.end(), id_view(kind, value), id_less);
        return it != ids_.end() && it->first == kind && same_text(it->second, value);
    }

    bool has_kind(partition_kind kind) const {
        return std::any_of(ids_.begin(), ids_.end(), [kind](const auto& id) { return id.first == kind; });
    }

    // partition_of_credential(entry) is allowed.
    bool contains_credential(const light_entry& entry) const {
        if (!entry.user_assertion_hash.empty()) return contains(partition_kind::assertion, entry.user_assertion_hash);
        if (!entry.home_account_id.empty()) return contains(partition_kind::account, entry.home_account_id);
        return contains(partition_kind::app_tenant, entry.realm);
    }

  private:
    using id_view = std::pair<partition_kind, std::string_view>;
    static bool id_less(const id_view& a, const id_view& b) {
        return a.first != b.first ? a.first < b.first : text_less(a.second, b.second);
    }

    std::vector<id_view> ids_;
};

// rekey(msal_node) would leave the cache as it is: every entry under msal-node 7's key for its fields, and no two
// entries of a section one credential. Equal identity digests are not proof of one credential: the DOM path decides.
bool keys_canonical(const cache_index& index) {
    std::vector<std::uint64_t> digests;
    for (const auto& member : index.members) {
        if (member.kind == section_kind::none) continue;
        const auto kind = static_cast<entry_kind>(static_cast<int>(member.kind) - 1);
        digests.clear();
        for (std::size_t i = member.first; i < member.last; ++i) {
            const auto& entry = index.entries[i];
            if (!is_msal_node_key(kind, entry, entry.key)) return false;
            digests.push_back(identity_digest(kind, entry));
        }
        std::sort(digests.begin(), digests.end());
        if (std::adjacent_find(digests.begin(), digests.end()) != digests.end()) return false;
    }
    return true;
}

bool is_credential(section_kind kind) {
    return kind == section_kind::id_token || kind == section_kind::access_token || kind == section_kind::refresh_token;
}

// The fast path's working state: the index and the plan being decided on it.
class light_write {
  public:
    light_write(cache_index& index, const write_request& request) : index_(index), request_(request) {}

    // restrict_to: clears `kept` on the entries outside the allowed partitions, the way router::targets decides.
    void restrict(write_plan& plan) {
        const allowed_ids allowed(request_.allowed);
        // The router sends a home account's Account and IdToken entries to every assertion partition its
        // credentials name: the homes whose credentials name an allowed one.
        std::vector<std::string_view> homes_of_allowed_assertions;
        if (allowed.has_kind(partition_kind::assertion)) {
            for_entries(is_credential, [&](section_kind, light_entry& entry) {
                if (!entry.user_assertion_hash.empty() &&
                    allowed.contains(partition_kind::assertion, entry.user_assertion_hash)) {
                    homes_of_allowed_assertions.push_back(entry.home_account_id);
                }
            });
            sort_unique(homes_of_allowed_assertions);
        }
        std::vector<std::string_view> dropped_homes;
        std::vector<std::string_view> kept_clients;
        const auto routed = [](section_kind kind) { return kind != section_kind::app_metadata; };
        for_entries(routed, [&](section_kind kind, light_entry& entry) {
            const auto home = entry.home_account_id;
            bool keep = false;
            if (kind == section_kind::account) {
                keep = allowed.contains(partition_kind::account, home) || contains(homes_of_allowed_assertions, home);
            } else {
                keep = allowed.contains_credential(entry);
                if (!keep && kind == section_kind::id_token) {
                    keep = (!home.empty() && allowed.contains(partition_kind::account, home)) ||
                           contains(homes_of_allowed_assertions, home);
                }
            }
            if (!keep) {
                entry.kept = false;
                ++plan.dropped_entries;
                dropped_homes.push_back(home);
                return;
            }
            if (kind != section_kind::account) kept_clients.push_back(entry.client_id);
        });
        // AppMetadata follows the kept credentials.
        sort_unique(kept_clients);
        for_entries([](section_kind kind) { return kind == section_kind::app_metadata; },
                    [&](section_kind, light_entry& entry) { entry.kept = contains(kept_clients, entry.client_id); });
        sort_unique(dropped_homes);
        plan.dropped_home_account_ids = to_strings(dropped_homes);
    }

    // expire, on the kept entries.
    void expire(expiry_report& report) {
        const auto now = request_.expiry.now;
        const auto access_deadline = saturating_add(now, request_.expiry.skew_seconds);
        std::vector<std::string_view> homes_with_tokens;
        const auto token = [](section_kind kind) {
            return kind == section_kind::access_token || kind == section_kind::refresh_token;
        };
        for_kept(token, [&](section_kind kind, light_entry& entry) {
            const bool expired = kind == section_kind::access_token
                                     ? !entry.expires_on || *entry.expires_on <= access_deadline
                                     : entry.expires_on && *entry.expires_on <= now;
            if (expired) {
                entry.kept = false;
                ++(kind == section_kind::access_token ? report.removed_access_tokens : report.removed_refresh_tokens);
                return;
            }
            homes_with_tokens.push_back(entry.home_account_id);
            report.has_tokens = true;
        });
        sort_unique(homes_with_tokens);
        const auto account_or_id_token = [](section_kind kind) {
            return kind == section_kind::account || kind == section_kind::id_token;
        };
        for_kept(account_or_id_token, [&](section_kind kind, light_entry& entry) {
            if (contains(homes_with_tokens, entry.home_account_id)) return;
            entry.kept = false;
            ++(kind == section_kind::account ? report.removed_accounts : report.removed_id_tokens);
        });
    }

    std::vector<std::string> home_account_ids() {
        std::vector<std::string_view> ids;
        for_kept([](section_kind kind) { return kind != section_kind::app_metadata; },
                 [&](section_kind, light_entry& entry) {
                     if (!entry.home_account_id.empty()) ids.push_back(entry.home_account_id);
                 });
        sort_unique(ids);
        return to_strings(ids);
    }

    // partition_ttl, on the kept entries.
    std::int64_t ttl() {
        const auto now = request_.expiry.now;
        const auto remaining = [now](std::int64_t until) {
            return std::max<std::int64_t>(0, saturating_sub(until, now));
        };
        const auto access = [](section_kind kind) { return kind == section_kind::access_token; };
        const auto refresh = [](section_kind kind) { return kind == section_kind::refresh_token; };
        if (request_.kind == partition_kind::app_tenant) {
            std::optional<std::int64_t> latest;
            for_kept(access, [&](section_kind, light_entry& entry) {
                if (entry.expires_on) latest = std::max(latest.value_or(*entry.expires_on), *entry.expires_on);
            });
            return latest ? remaining(*latest) : 0;
        }
        std::size_t refresh_tokens = 0;
        bool any_access_token = false;
        for_kept(access, [&](section_kind, light_entry&) { any_access_token = true; });
        std::optional<std::int64_t> latest_refresh;
        bool all_refresh_tokens_expire = true;
        for_kept(refresh, [&](section_kind, light_entry& entry) {
            ++refresh_tokens;
            if (!entry.expires_on) {
                all_refresh_tokens_expire = false;
            } else if (all_refresh_tokens_expire) {
                latest_refresh = std::max(latest_refresh.value_or(*entry.expires_on), *entry.expires_on);
            }
        });
        if (!any_access_token && refresh_tokens == 0) return 0;
        const auto& policy = request_.ttl;
        std::int64_t ttl = std::min(policy.sliding_seconds,
                                    saturating_sub(saturating_add(request_.created_at, policy.absolute_seconds), now));
        if (refresh_tokens != 0 && all_refresh_tokens_expire) ttl = std::min(ttl, saturating_sub(*latest_refresh, now));
        return std::max<std::int64_t>(0, ttl);
    }

    // The compact cache: the top-level members in order, known sections holding only their kept entries, each copied
    // from the input text.
    std::string render(std::size_t input_bytes) const {
        std::string out;
        out.reserve(input_bytes + 2);
        out += '{';
        for (const auto& member : index_.members) {
            if (&member != &index_.members.front()) out += ',';
            if (member.kind == section_kind::none) {
                out += member.text;
                continue;
            }
            out += member.key_text;
            out += ":{";
            bool first = true;
            for (std::size_t i = member.first; i < member.last; ++i) {
                const auto& entry = index_.entries[i];
                if (!entry.kept) continue;
                if (!first) out += ',';
                first = false;
                out += entry.text;
            }
            out += '}';
        }
        out += '}';
        return out;
    }

  private:
    // Calls action(kind, entry) on every entry of the known sections `select` accepts, in document order.
    template <typename Select, typename Action>
    void for_entries(Select&& select, Action&& action) {
        for (const auto& member : index_.members) {
            if (member.kind == section_kind::none || !select(member.kind)) continue;
            for (std::size_t i = member.first; i < member.last; ++i) action(member.kind, index_.entries[i]);
        }
    }

    template <typename Select, typename Action>
    void for_kept(Select&& select, Action&& action) {
        for_entries(select, [&](section_kind kind, light_entry& entry) {
            if (entry.kept) action(kind, entry);
        });
    }

    cache_index& index_;
    const write_request& request_;
};

}  // namespace

std::optional<write_plan> plan_write_fast(std::string_view serialized, const write_request& request) {
    if (serialized.size() > request.limits.max_bytes || request.limits.max_depth > max_recursion) return std::nullopt;
    cache_index index;
    index.members.reserve(8);
    index.entries.reserve(16);
    if (!cache_scanner(serialized, request.limits.max_depth, index).run()) return std::nullopt;
    if (!keys_canonical(index)) return std::nullopt;  // another library's spelling or a duplicate: the DOM path

    // decide_write's steps, in its order: restrict_to -> expire -> partition_ttl.
    light_write write(index, request);
    write_plan plan;
    write.restrict(plan);
    write.expire(plan.expiry);
    plan.home_account_ids = write.home_account_ids();
    if (plan.expiry.has_tokens) plan.ttl_seconds = write.ttl();
    // A partition past its absolute lifetime is deleted like an empty one: a TTL of 0 cannot be stored.
    plan.has_tokens = plan.ttl_seconds > 0;
    if (plan.has_tokens) plan.cache = write.render(serialized.size());
    return plan;
}

}  // namespace msalcache::detail
