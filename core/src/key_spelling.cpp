#include "key_spelling.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <vector>

#include "internal.hpp"
#include "msalcache/cloud_aliases.hpp"

namespace msalcache::detail {
namespace {

// ASCII only: msal-node's toLowerCase and msal-python's lower() also fold non-ASCII letters, in ways that differ
// from each other; spell() refuses such text rather than guess (is_ascii).
char fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_ascii(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool same_folded(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (fold(a[i]) != fold(b[i])) return false;
    }
    return true;
}

// Keys are the parts joined with '-', lowercased except where a library does not (msal-python's AppMetadata key).
struct spelled {
    std::array<std::string_view, 8> parts{};
    std::size_t size = 0;
    bool lowercase = true;

    spelled& add(std::string_view part) {
        parts[size++] = part;
        return *this;
    }
};

std::string_view scheme(const key_fields& f) { return same_folded(f.token_type, "bearer") ? "" : f.token_type; }

// The fields with the environment entries are stored under (cloud_aliases.hpp): what msal-node 7 keys and the
// identity compares, so that one cloud's aliases are one environment.
key_fields stored_fields(const key_fields& f) {
    key_fields s = f;
    s.environment = cache_environment(f.environment);
    return s;
}

// msal-node 7 (msal-common 16 generateCredentialKey / generateAccountKey / generateAppMetadataKey). A refresh token
// is keyed by its family; its realm and target are usually absent, but keyed when present.
spelled node_spelling(entry_kind kind, const key_fields& f) {
    spelled s;
    switch (kind) {
        case entry_kind::account: {
            // generateAccountKey: the home tenant (what follows the first '.' of the home account id), else the realm.
            std::string_view home_tenant;
            const auto dot = f.home_account_id.find('.');
            if (dot != std::string_view::npos) {
                home_tenant = f.home_account_id.substr(dot + 1);
                home_tenant = home_tenant.substr(0, home_tenant.find('.'));
            }
            return s.add(f.home_account_id).add(f.environment).add(home_tenant.empty() ? f.realm : home_tenant);
        }
        case entry_kind::app_metadata:
            return s.add("appmetadata").add(f.environment).add(f.client_id);
        default: {
            const bool family = kind == entry_kind::refresh_token && !f.family_id.empty();
            return s.add(f.home_account_id).add(f.environment).add(f.credential_type)
                .add(family ? f.family_id : f.client_id).add(f.realm).add(f.target).add(scheme(f));
        }
    }
}

// msal-python's key_makers, which MSAL Java, Go (1.1; 1.0 kept the case) and .NET (Bearer tokens) share: no scheme, a
// refresh token keyed by client id and target with an empty realm, an IdToken with an empty target.
spelled python_spelling(entry_kind kind, const key_fields& f) {
    spelled s;
    switch (kind) {
        case entry_kind::account: return s.add(f.home_account_id).add(f.environment).add(f.realm);
        case entry_kind::app_metadata:
            s.lowercase = false;  // "appmetadata-{}-{}".format(...): msal-python does not lowercase this one
            return s.add("appmetadata").add(f.environment).add(f.client_id);
        case entry_kind::refresh_token:
            return s.add(f.home_account_id).add(f.environment).add(f.credential_type).add(f.client_id).add("")
                .add(f.target);
        case entry_kind::id_token:
            return s.add(f.home_account_id).add(f.environment).add(f.credential_type).add(f.client_id).add(f.realm)
                .add("");
        case entry_kind::access_token:
            return s.add(f.home_account_id).add(f.environment).add(f.credential_type).add(f.client_id).add(f.realm)
                .add(f.target);
    }
    return s;
}

// How much of `key` spells `s` (its parts lowercased where the spelling lowercases; the key folded too when
// `fold_key`); npos when it does not.
std::size_t match_prefix(std::string_view key, const spelled& s, bool fold_key) {
    std::size_t at = 0;
    for (std::size_t i = 0; i < s.size; ++i) {
        if (i != 0) {
            if (at == key.size() || key[at] != '-') return std::string_view::npos;
            ++at;
        }
        const auto part = s.parts[i];
        if (key.size() - at < part.size()) return std::string_view::npos;
        for (char c : part) {
            const char expected = s.lowercase || fold_key ? fold(c) : c;
            const char got = fold_key ? fold(key[at]) : key[at];
            if (got != expected) return std::string_view::npos;
            ++at;
        }
    }
    return at;
}

bool matches(std::string_view key, const spelled& s) { return match_prefix(key, s, true) == key.size(); }

// msal-node 7's key of an entry with additionalCacheKeyComponents ends in "-" and their hash; the hash is read from
// the key, never computed (it is a SHA-256 the core has no use for otherwise). Returns whether `key` is that spelling.
bool node_key_with_hash(std::string_view key, const spelled& s, bool fold_key, std::string_view* hash) {
    const auto at = match_prefix(key, s, fold_key);
    if (at == std::string_view::npos || at + 1 >= key.size() || key[at] != '-') return false;
    if (hash != nullptr) *hash = key.substr(at + 1);
    return true;
}

void append_folded(std::string& out, std::string_view text) {
    for (char c : text) out += fold(c);
}

// The scopes of a target as a set: split on whitespace (msal-python's split()), lowercased, sorted, distinct.
std::vector<std::string> scope_set(std::string_view target) {
    std::vector<std::string> scopes;
    std::size_t i = 0;
    while (i < target.size()) {
        while (i < target.size() && std::isspace(static_cast<unsigned char>(target[i]))) ++i;
        const auto start = i;
        while (i < target.size() && !std::isspace(static_cast<unsigned char>(target[i]))) ++i;
        if (i > start) {
            scopes.emplace_back();
            append_folded(scopes.back(), target.substr(start, i - start));
        }
    }
    std::sort(scopes.begin(), scopes.end());
    scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
    return scopes;
}

// The key_fields parts of the identity, in a fixed order per kind; identity() and identity_digest() both walk these.
template <typename Part, typename Scopes>
void identity_parts(entry_kind kind, const key_fields& fields, Part&& part, Scopes&& scopes) {
    const key_fields f = stored_fields(fields);
    switch (kind) {
        case entry_kind::account: part(f.home_account_id); part(f.environment); part(f.realm); return;
        case entry_kind::app_metadata: part(f.environment); part(f.client_id); return;
        case entry_kind::refresh_token:
            part(f.home_account_id); part(f.environment); part(f.credential_type);
            part(f.family_id.empty() ? f.client_id : f.family_id);
            return;
        case entry_kind::id_token:
            part(f.home_account_id); part(f.environment); part(f.credential_type); part(f.client_id); part(f.realm);
            return;
        case entry_kind::access_token:
            part(f.home_account_id); part(f.environment); part(f.credential_type); part(f.client_id); part(f.realm);
            part(scheme(f));
            scopes(f.target);
            return;
    }
}

}  // namespace

std::optional<entry_kind> entry_kind_of(std::string_view section_name) {
    if (section_name == section::account) return entry_kind::account;
    if (section_name == section::id_token) return entry_kind::id_token;
    if (section_name == section::access_token) return entry_kind::access_token;
    if (section_name == section::refresh_token) return entry_kind::refresh_token;
    if (section_name == section::app_metadata) return entry_kind::app_metadata;
    return std::nullopt;
}

key_fields key_fields_of(const json& entry) {
    key_fields f;
    f.home_account_id = string_field(entry, "home_account_id");
    f.environment = string_field(entry, "environment");
    f.credential_type = string_field(entry, "credential_type");
    f.client_id = string_field(entry, "client_id");
    f.family_id = string_field(entry, "family_id");
    f.realm = string_field(entry, "realm");
    f.target = string_field(entry, "target");
    f.token_type = string_field(entry, "token_type");
    f.requested_claims_hash = string_field(entry, "requestedClaimsHash");
    const auto components = entry.find("additionalCacheKeyComponents");
    f.has_components = components != entry.end() && components->is_object() && !components->empty();
    return f;
}

bool is_msal_node_key(entry_kind kind, const key_fields& fields, std::string_view key) {
    // An entry under another alias of its cloud is stored under the cloud's preferred_cache alias: not as it is.
    if (cache_environment(fields.environment) != fields.environment) return false;
    const auto s = node_spelling(kind, fields);
    if (fields.has_components && kind != entry_kind::account && kind != entry_kind::app_metadata) {
        return node_key_with_hash(key, s, false, nullptr);
    }
    return match_prefix(key, s, false) == key.size();
}

std::uint64_t identity_digest(entry_kind kind, const key_fields& fields) {
    constexpr std::uint64_t prime = 0x100000001B3u;
    std::uint64_t digest = 0xCBF29CE484222325u ^ static_cast<std::uint64_t>(kind);
    const auto part = [&](std::string_view text) {
        for (char c : text) digest = (digest ^ static_cast<unsigned char>(fold(c))) * prime;
        digest = (digest ^ 0x1F) * prime;  // the separator: ("ab","") and ("a","b") differ
    };
    // A set's digest must not depend on order or repetition, and must not allocate (this runs on plan_write's fast
    // path): the smallest and the largest scope hash and a 64-bit Bloom filter, all idempotent and commutative. The
    // filter alone has only 64 values for one-scope targets: a partition of a dozen access tokens for one resource
    // each would collide (a birthday bound) and send plan_write down its DOM path.
    const auto scopes = [&](std::string_view target) {
        std::uint64_t bits = 0;
        std::uint64_t smallest = ~std::uint64_t{0};
        std::uint64_t largest = 0;
        std::uint64_t h = 0xCBF29CE484222325u;
        bool in_scope = false;
        for (std::size_t i = 0; i <= target.size(); ++i) {
            if (i == target.size() || std::isspace(static_cast<unsigned char>(target[i]))) {
                if (in_scope) {
                    h ^= h >> 29;  // FNV's high bits are weak: mix before taking the filter's bit from them
                    h *= 0xBF58476D1CE4E5B9u;
                    h ^= h >> 32;
                    bits |= std::uint64_t{1} << (h >> 58);
                    smallest = std::min(smallest, h);
                    largest = std::max(largest, h);
                }
                h = 0xCBF29CE484222325u;
                in_scope = false;
                continue;
            }
            h = (h ^ static_cast<unsigned char>(fold(target[i]))) * prime;
            in_scope = true;
        }
        digest = (digest ^ bits) * prime;
        digest = (digest ^ smallest) * prime;
        digest = (digest ^ largest) * prime;
    };
    identity_parts(kind, fields, part, scopes);
    return digest;
}

namespace {

std::optional<std::string_view> recognise_as(entry_kind kind, const key_fields& f, std::string_view key) {
    const auto node = node_spelling(kind, f);
    const bool hashed = f.has_components && kind != entry_kind::account && kind != entry_kind::app_metadata;
    std::string_view hash;
    if (hashed ? node_key_with_hash(key, node, true, &hash) : matches(key, node)) return hash;
    if (matches(key, python_spelling(kind, f))) return std::string_view();
    if (kind == entry_kind::account || kind == entry_kind::app_metadata) return std::nullopt;
    if (kind != entry_kind::refresh_token) {
        spelled legacy;
        legacy.add(f.home_account_id).add(f.environment).add(f.credential_type).add(f.client_id).add(f.realm)
            .add(f.target).add(f.requested_claims_hash).add(scheme(f));
        if (matches(key, legacy)) return std::string_view();
        return std::nullopt;
    }
    const std::string_view ids[] = {f.client_id, f.family_id};
    for (std::size_t i = 0; i < (f.family_id.empty() ? 1u : 2u); ++i) {
        for (auto target : {std::string_view(), f.target}) {
            const auto id = ids[i];
            spelled s;
            s.add(f.home_account_id).add(f.environment).add(f.credential_type).add(id).add("").add(target);
            if (matches(key, s)) return std::string_view();
            s.add("");  // msal-node 2's refresh token key: also a claims and a scheme segment, both empty
            s.add("");
            if (matches(key, s)) return std::string_view();
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string_view> recognise(entry_kind kind, const key_fields& f, std::string_view key) {
    if (auto hash = recognise_as(kind, f, key)) return hash;
    // A key under the cloud's preferred_cache alias while the field names another alias: how msal-python's key
    // makers key the entries it writes (bindings/python), and how the core keys any entry of a cloud.
    const auto stored = stored_fields(f);
    if (stored.environment == f.environment) return std::nullopt;
    return recognise_as(kind, stored, key);
}

std::string identity(entry_kind kind, const key_fields& f, const json& entry) {
    std::string out(1, static_cast<char>('0' + static_cast<int>(kind)));
    const auto part = [&](std::string_view text) {
        append_folded(out, text);
        out += '\x1f';
    };
    const auto scopes = [&](std::string_view target) {
        for (const auto& scope : scope_set(target)) {
            out += scope;
            out += ' ';
        }
        out += '\x1f';
    };
    identity_parts(kind, f, part, scopes);
    if (kind != entry_kind::access_token && kind != entry_kind::refresh_token) return out;
    // What tells two credentials apart beyond the key parts: a different value is a different credential.
    for (auto name : {"additionalCacheKeyComponents", "userAssertionHash", "key_id", "requestedClaimsHash"}) {
        const auto it = entry.find(name);
        if (it == entry.end()) {
            out += '\x1e';
            continue;
        }
        // Components as an object whose member order does not count.
        const auto text = it->is_object() ? nlohmann::json(*it).dump(-1, ' ', false, json::error_handler_t::replace)
                                          : it->dump(-1, ' ', false, json::error_handler_t::replace);
        out += text;
        out += '\x1e';
    }
    return out;
}

std::optional<std::string> spell(entry_kind kind, const key_fields& f, key_spelling spelling,
                                 std::string_view components_hash) {
    // msal-node 7 keys (and writes) the cloud's preferred_cache alias; msal-python keys the environment it wrote.
    const auto s = spelling == key_spelling::msal_node ? node_spelling(kind, stored_fields(f)) : python_spelling(kind, f);
    const bool hashed = spelling == key_spelling::msal_node && f.has_components && kind != entry_kind::account &&
                        kind != entry_kind::app_metadata;
    if (hashed && components_hash.empty()) return std::nullopt;
    std::string key;
    for (std::size_t i = 0; i < s.size; ++i) {
        if (!is_ascii(s.parts[i])) return std::nullopt;
        if (i != 0) key += '-';
        if (s.lowercase) {
            append_folded(key, s.parts[i]);
        } else {
            key += s.parts[i];
        }
    }
    if (hashed) {
        if (!is_ascii(components_hash)) return std::nullopt;
        key += '-';
        append_folded(key, components_hash);
    }
    return key;
}

bool store_environment(entry_kind kind, json& entry, std::string_view key, std::string_view components_hash) {
    const auto it = entry.find("environment");
    if (it == entry.end() || !it->is_string()) return false;
    const auto stored = cache_environment(it->get_ref<const std::string&>());
    if (stored == it->get_ref<const std::string&>()) return false;
    // An entry left under a key the core did not spell (contested, or not ASCII) keeps the host that key names, so
    // that the key still spells its fields and the entry stays recognised.
    if (spell(kind, key_fields_of(entry), key_spelling::msal_node, components_hash) != key) return false;
    *it = std::string(stored);
    return true;
}

}  // namespace msalcache::detail
