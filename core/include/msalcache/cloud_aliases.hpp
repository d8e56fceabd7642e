#pragma once
// The host names of one Microsoft cloud are one environment.
//
// An MSAL cache entry's `environment` is the host of the authority that issued it, and each library picks a different
// host of the same cloud: msal-node 7 writes the cloud's preferred_cache alias (login.windows.net for the public
// cloud), msal-python its authority's host (login.microsoftonline.com). Both look entries up by that field, so one
// credential written by both would be two entries. The core treats the known aliases of a cloud as one environment
// (credential_keys.hpp's identity) and stores every entry under the cloud's preferred_cache alias, which is what
// msal-node writes and reads; bindings ask the core for that host (never keep a table of their own), and hand their
// library the partition spelled with the host it uses.
//
// The table is msal-common 16's hard-coded instance discovery metadata (AuthorityMetadata.ts, the one msal-node 7
// uses when it does not ask the network), plus the pre-production cloud of MSAL.NET's KnownMetadataProvider (its own
// group: PPE is not an alias of the public cloud). A host outside the table (B2C, ADFS, a custom authority) is its
// own environment.

#include <optional>
#include <string_view>

namespace msalcache {

// The preferred_cache alias of `host`'s cloud (lowercase), when `host` (ASCII case-insensitive) is a known alias of
// a cloud; nullopt otherwise.
std::optional<std::string_view> cloud_cache_alias(std::string_view host);

// The environment entries are stored under: the cloud's preferred_cache alias for a known alias, else `host`
// unchanged.
std::string_view cache_environment(std::string_view host);

}  // namespace msalcache
