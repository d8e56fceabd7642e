#pragma once
// One entry per credential, whichever MSAL library wrote it.
//
// MSAL libraries share the cache schema but spell an entry's key differently: msal-node 7 appends a scheme segment
// (and a hash of additionalCacheKeyComponents), msal-node 2 a requested-claims hash before it, msal-python, MSAL Java,
// MSAL Go and MSAL.NET neither (Go 1.0 did not even lowercase). Every library reads entries by their fields, whatever
// the key, but updates and removes only under its own spelling: a partition shared by two libraries gathers one
// entry per spelling of the same credential. The core therefore identifies an entry by its fields:
//   - AccessToken: home_account_id, environment, credential_type, client_id, realm, target as a case-insensitive set
//     of scopes, the scheme (token_type, Bearer counting as none), additionalCacheKeyComponents, key_id,
//     requestedClaimsHash and userAssertionHash;
//   - RefreshToken: home_account_id, environment, credential_type, family_id or else client_id,
//     additionalCacheKeyComponents and userAssertionHash (a refresh token serves every tenant and scope: msal-node
//     writes it without target, msal-python with the scopes of the request that brought it);
//   - IdToken: home_account_id, environment, credential_type, client_id, realm;
//   - Account: home_account_id, environment, realm;  AppMetadata: environment, client_id.
// The environment is compared as a cloud (cloud_aliases.hpp): msal-node 7 writes login.windows.net where msal-python
// writes login.microsoftonline.com for the same credential. Under msal-node's spelling an entry is also stored with
// the cloud's preferred_cache alias as its environment, which is what msal-node 7 writes.
// Only entries whose key is one of the known spellings of their own fields are identified (compared without case);
// any other key is an entry the core does not understand, and it stays as it is.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "msalcache/token_cache.hpp"

namespace msalcache {

enum class key_spelling {
    msal_node,    // msal-node 7 (msal-common 16): what partitions store, so Node hands them to msal-node unchanged
    msal_python,  // msal-python's TokenCache.key_makers, so its updates and removals find the entry
};

struct rekey_report {
    std::size_t collapsed = 0;     // entries left out because another entry of the cache is the same credential
    std::size_t rekeyed = 0;       // entries now under a different key
    std::size_t unrecognised = 0;  // entries whose key is no spelling of their fields: kept under it, never collapsed
    std::size_t dropped = 0;       // two different credentials whose every key candidate is the same (hand-made keys)
};

// One entry per credential in every known section, each under `spelling`'s key. Of two entries for one credential
// the later access token is kept (expires_on, then cached_at), otherwise the one later in the document: a library
// appends the entries it adds, and a duplicate appears exactly when one library adds its own spelling of an entry
// another wrote. Kept entries stay where their credential first appeared; entries, unknown fields and unknown
// sections are unchanged, only keys change, and under msal_node the environment of a recognised entry that names
// another alias of a known cloud (it becomes the cloud's preferred_cache alias, with the key; an entry that keeps its
// key keeps its environment too). An entry keeps its key when the spelling cannot be built (msal-node 7's
// additionalCacheKeyComponents hash is taken from an msal-node key and never computed; fields with non-ASCII text
// are lowercased differently by each library) or would be another credential's key.
token_cache rekey(const token_cache& cache, key_spelling spelling, rekey_report* report = nullptr);

// rekey on JSON text: parses as strictly as token_cache::parse (throws cache_error), returns compact JSON.
std::string rekey_json(std::string_view text, key_spelling spelling, const parse_limits& limits = {});

// The identity described above, as an opaque string equal for the same credential; nullopt when `section_name` is
// not a known section or `key` is none of the spellings of `entry`'s fields.
std::optional<std::string> credential_identity(std::string_view section_name, std::string_view key, const json& entry);

// `spelling`'s key for `entry`; nullopt when it cannot be built (see rekey). `current_key`, when it is msal-node 7's
// key of the entry, provides the additionalCacheKeyComponents hash.
std::optional<std::string> spell_key(std::string_view section_name, const json& entry, key_spelling spelling,
                                     std::string_view current_key = {});

}  // namespace msalcache
