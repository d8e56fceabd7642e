#pragma once
// The key spellings of MSAL libraries and the identity of an entry (credential_keys.hpp), shared by rekey, the
// three-way merge and plan_write's fast path. Not part of the public API.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msalcache/credential_keys.hpp"

namespace msalcache::detail {

enum class entry_kind : std::uint8_t { account, id_token, access_token, refresh_token, app_metadata };

std::optional<entry_kind> entry_kind_of(std::string_view section_name);

// The fields keys are spelled from: decoded string values, "" when absent or not a string. Views, so that the fast
// path fills them from the text and the DOM path from a json entry with one implementation of the spellings.
struct key_fields {
    std::string_view home_account_id;
    std::string_view environment;
    std::string_view credential_type;
    std::string_view client_id;
    std::string_view family_id;
    std::string_view realm;
    std::string_view target;
    std::string_view token_type;
    std::string_view requested_claims_hash;  // msal-node 2's key segment; the fast path leaves it empty
    bool has_components = false;  // additionalCacheKeyComponents is an object with a member: msal-node 7 adds a hash
};

key_fields key_fields_of(const json& entry);

// Whether `key` is, byte for byte, msal-node 7's key for these fields: what rekey(msal_node) leaves unchanged.
bool is_msal_node_key(entry_kind kind, const key_fields& fields, std::string_view key);

// A digest of the identity's parts that key_fields hold (lowercased; the target as a set of scopes). Equal
// identities give equal digests, so distinct digests prove that no two entries are one credential.
std::uint64_t identity_digest(entry_kind kind, const key_fields& fields);

// The components hash ("" when none) when `key` is one of the spellings of `fields`, compared without case: msal-node
// 7, msal-node 2 (msal-common 14: a requestedClaimsHash segment before the scheme), msal-python's (shared by Java, Go
// and .NET), and for refresh tokens the variants keyed by family id (.NET) and without target. nullopt otherwise.
std::optional<std::string_view> recognise(entry_kind kind, const key_fields& fields, std::string_view key);

// The identity (credential_keys.hpp) as an opaque string; `entry` provides the fields beyond key_fields.
std::string identity(entry_kind kind, const key_fields& fields, const json& entry);

// `spelling`'s key; nullopt when a part is not ASCII, or msal-node 7's key needs a components hash not given.
std::optional<std::string> spell(entry_kind kind, const key_fields& fields, key_spelling spelling,
                                 std::string_view components_hash);

// Sets an entry's environment to the one it is stored under (cloud_aliases.hpp: the cloud's preferred_cache alias,
// what msal-node 7 writes) when `key` is msal-node 7's spelling of the entry (which names that host). Returns whether
// it changed. Only for entries whose key the core recognised.
bool store_environment(entry_kind kind, json& entry, std::string_view key, std::string_view components_hash);

// One entry as the key assignment sees it.
struct placed_entry {
    std::string_view original_key;     // its key in the cache it came from
    const json* value = nullptr;
    bool recognised = false;           // its key is a spelling of its fields
    std::string_view components_hash;  // from an msal-node 7 key of the same credential, "" when none was seen
};

// The entries of one known section, one per credential (rekey's rule), in order of first appearance. `id` is what
// identifies an entry across caches: "c" + identity when recognised, "k" + key otherwise.
struct credential_group {
    std::string id;
    placed_entry entry;
};
std::vector<credential_group> group_entries(entry_kind kind, const json& section, rekey_report& report);

// The key of each entry under `spelling`, in order; nullopt drops it (every candidate taken by another credential).
// Entries whose spelling is contested (wanted by two, or held by an entry that keeps its key) keep their key.
std::vector<std::optional<std::string>> assign_keys(entry_kind kind, const std::vector<placed_entry>& entries,
                                                    key_spelling spelling, rekey_report& report);

}  // namespace msalcache::detail
