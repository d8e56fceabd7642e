#include "msalcache/cloud_aliases.hpp"

#include <array>

namespace msalcache {
namespace {

struct cloud {
    std::string_view preferred_cache;
    std::array<std::string_view, 4> aliases;  // unused slots are empty
};

// msal-common 16.18 (msal-node 7.2) AuthorityMetadata.ts instanceDiscoveryMetadata, in its order; then MSAL.NET's
// pre-production cloud. preferred_network is not needed: the core only decides how entries are stored.
constexpr std::array<cloud, 9> clouds = {{
    {"login.windows.net",
     {"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"}},
    {"login.partner.microsoftonline.cn", {"login.partner.microsoftonline.cn", "login.chinacloudapi.cn"}},
    {"login.microsoftonline.de", {"login.microsoftonline.de"}},
    {"login.microsoftonline.us", {"login.microsoftonline.us", "login.usgovcloudapi.net"}},
    {"login-us.microsoftonline.com", {"login-us.microsoftonline.com"}},
    {"login.sovcloud-identity.fr", {"login.sovcloud-identity.fr"}},
    {"login.sovcloud-identity.de", {"login.sovcloud-identity.de"}},
    {"login.sovcloud-identity.sg", {"login.sovcloud-identity.sg"}},
    {"login.windows-ppe.net", {"login.windows-ppe.net", "sts.windows-ppe.net", "login.microsoft-ppe.com"}},
}};

// Host names compare without ASCII case (msal lowercases keys, not always fields).
bool same_host(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

}  // namespace

std::optional<std::string_view> cloud_cache_alias(std::string_view host) {
    // Every known alias is 15-32 bytes: most field values (and every empty one) leave at once. This runs per entry
    // on plan_write's fast path.
    if (host.size() < 15 || host.size() > 32) return std::nullopt;
    for (const auto& c : clouds) {
        for (const auto alias : c.aliases) {
            if (!alias.empty() && same_host(alias, host)) return c.preferred_cache;
        }
    }
    return std::nullopt;
}

std::string_view cache_environment(std::string_view host) { return cloud_cache_alias(host).value_or(host); }

}  // namespace msalcache
