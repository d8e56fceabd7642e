#include "msalcache/expiry.hpp"

#include <algorithm>
#include <string>
#include <unordered_set>

#include "internal.hpp"

namespace msalcache {
namespace {

// Rebuilds the section without the entries `drop` selects: erasing from an ordered_json object one by one would
// shift the whole vector each time. Returns how many were removed.
template <typename Predicate>
std::size_t remove_entries(token_cache& cache, std::string_view section_name, Predicate drop) {
    if (!cache.document().contains(section_name)) return 0;
    auto& entries = cache.mutable_entries(section_name).get_ref<json::object_t&>();
    json::object_t kept;
    kept.reserve(entries.size());
    for (auto& entry : entries) {
        if (!drop(entry.second)) kept.emplace_back(entry.first, std::move(entry.second));
    }
    const std::size_t removed = entries.size() - kept.size();
    entries = std::move(kept);
    return removed;
}

}  // namespace

expiry_report expire(token_cache& cache, const expiry_options& options) {
    expiry_report report;
    const auto access_deadline = detail::saturating_add(options.now, options.skew_seconds);

    // An access token without expires_on cannot be trusted to be valid (msal reads it as expired too).
    report.removed_access_tokens = remove_entries(cache, section::access_token, [&](const json& entry) {
        const auto expires_on = epoch_field(entry, "expires_on");
        return !expires_on || *expires_on <= access_deadline;
    });
    // Refresh tokens usually carry no expiry (msal-node does not even serialise one): keep those.
    report.removed_refresh_tokens = remove_entries(cache, section::refresh_token, [&](const json& entry) {
        const auto expires_on = epoch_field(entry, "expires_on");
        return expires_on && *expires_on <= options.now;
    });

    std::unordered_set<std::string> homes_with_tokens;
    for (auto name : {section::access_token, section::refresh_token}) {
        for (const auto& entry : cache.entries(name)) homes_with_tokens.emplace(string_field(entry, "home_account_id"));
    }
    const auto orphan = [&](const json& entry) {
        return homes_with_tokens.count(std::string(string_field(entry, "home_account_id"))) == 0;
    };
    report.removed_id_tokens = remove_entries(cache, section::id_token, orphan);
    report.removed_accounts = remove_entries(cache, section::account, orphan);

    // Every access token left is valid past the skew.
    report.has_tokens = !cache.entries(section::access_token).empty() || !cache.entries(section::refresh_token).empty();
    return report;
}

std::int64_t partition_ttl(const token_cache& cache, partition_kind kind, const ttl_policy& policy,
                           std::int64_t created_at, std::int64_t now) {
    const json& access_tokens = cache.entries(section::access_token);
    const json& refresh_tokens = cache.entries(section::refresh_token);
    const auto remaining = [&](std::int64_t until) { return std::max<std::int64_t>(0, detail::saturating_sub(until, now)); };

    if (kind == partition_kind::app_tenant) {
        std::optional<std::int64_t> latest;
        for (const auto& entry : access_tokens) {
            if (const auto expires_on = epoch_field(entry, "expires_on")) latest = std::max(latest.value_or(*expires_on), *expires_on);
        }
        return latest ? remaining(*latest) : 0;
    }

    if (access_tokens.empty() && refresh_tokens.empty()) return 0;
    std::int64_t ttl = std::min(policy.sliding_seconds,
                                detail::saturating_sub(detail::saturating_add(created_at, policy.absolute_seconds), now));

    // A refresh token without expires_on may live on (its lifetime is the server's business): only when every one
    // carries an expiry does the last of them bound the partition.
    std::optional<std::int64_t> latest_refresh;
    bool all_refresh_tokens_expire = !refresh_tokens.empty();
    for (const auto& entry : refresh_tokens) {
        const auto expires_on = epoch_field(entry, "expires_on");
        if (!expires_on) {
            all_refresh_tokens_expire = false;
            break;
        }
        latest_refresh = std::max(latest_refresh.value_or(*expires_on), *expires_on);
    }
    if (all_refresh_tokens_expire) ttl = std::min(ttl, detail::saturating_sub(*latest_refresh, now));
    return std::max<std::int64_t>(0, ttl);
}

}  // namespace msalcache
