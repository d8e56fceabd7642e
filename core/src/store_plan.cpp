#include "msalcache/store_plan.hpp"

#include <optional>
#include <set>
#include <string>
#include <utility>

#include "cache_index.hpp"
#include "msalcache/credential_keys.hpp"
#include "internal.hpp"
#include "owned_steps.hpp"

namespace msalcache {
namespace {

// Distinct, sorted, non-empty home_account_ids of accounts and credentials.
std::vector<std::string> home_account_ids(const token_cache& cache) {
    std::set<std::string> ids;
    for (auto name : {section::account, section::id_token, section::access_token, section::refresh_token}) {
        for (const auto& entry : cache.entries(name)) {
            const auto home = string_field(entry, "home_account_id");
            if (!home.empty()) ids.emplace(home);
        }
    }
    return {ids.begin(), ids.end()};
}

// describe() must not fail on a field that the validator would have rejected: it reports null instead.
json epoch_or_null(const json& entry, std::string_view name) {
    const auto it = entry.find(name);
    if (it == entry.end()) return nullptr;
    const auto seconds = detail::parse_epoch(*it);
    return seconds ? json(*seconds) : json(nullptr);
}

struct decided_write {
    write_plan plan;    // everything but the cache text
    token_cache cache;  // what to store: the input restricted to the partition, expired tokens removed
};

// rekey -> restrict_to -> expire -> partition_ttl: plan_write's DOM path and plan_merge_write (the fast path in
// cache_index.cpp takes the same steps on its light entries, when rekey would change nothing). One entry per
// credential under msal-node 7's key, first, so that a duplicate another library wrote is neither stored nor counted.
decided_write decide_write(token_cache&& parsed, const write_request& request) {
    auto restricted = detail::restrict_owned(detail::rekey_owned(std::move(parsed), key_spelling::msal_node),
                                             request.allowed);
    decided_write out{write_plan{}, std::move(restricted.cache)};
    auto& plan = out.plan;
    plan.dropped_home_account_ids = std::move(restricted.dropped_home_account_ids);
    plan.dropped_entries = restricted.dropped_entries;
    plan.expiry = expire(out.cache, request.expiry);
    plan.home_account_ids = home_account_ids(out.cache);
    if (plan.expiry.has_tokens) {
        plan.ttl_seconds = partition_ttl(out.cache, request.kind, request.ttl, request.created_at, request.expiry.now);
    }
    // A partition past its absolute lifetime is deleted like an empty one: a TTL of 0 cannot be stored.
    plan.has_tokens = plan.ttl_seconds > 0;
    return out;
}

// decide_write on a DOM, then dump: plan_write's DOM path and plan_merge_write.
write_plan write_from_dom(token_cache&& parsed, const write_request& request) {
    auto [plan, cache] = decide_write(std::move(parsed), request);
    if (plan.has_tokens) plan.cache = cache.dump();
    return std::move(plan);
}

// One of plan_merge_write's inputs; the message says which, since all three are caches with the same schema.
token_cache parse_input(std::string_view text, std::string_view role, bool may_be_absent, const parse_limits& limits) {
    if (text.empty() && may_be_absent) return token_cache();
    try {
        return token_cache::parse(text, limits);
    } catch (const cache_error& error) {
        throw cache_error(std::string(role) + ": " + error.what());
    }
}

void require_allowed(const write_request& request, std::string_view operation) {
    if (request.allowed.empty()) throw cache_error(std::string(operation) + ": no allowed partition given");
}

}  // namespace

read_plan plan_read(std::string_view stored, const std::vector<partition_id>& allowed, const parse_limits& limits) {
    auto cache = token_cache::parse(stored, limits);
    read_plan plan;
    if (!allowed.empty()) {
        auto restricted = restrict_to(cache, allowed);
        if (restricted.dropped_entries != 0) {
            plan.rewritten = restricted.cache.dump();
            plan.dropped_home_account_ids = std::move(restricted.dropped_home_account_ids);
            cache = std::move(restricted.cache);
        }
    }
    plan.home_account_ids = home_account_ids(cache);
    return plan;
}

write_plan plan_write(std::string_view serialized, const write_request& request) {
    require_allowed(request, "plan_write");
    if (auto plan = detail::plan_write_fast(serialized, request)) return std::move(*plan);
    return detail::plan_write_dom(serialized, request);
}

write_plan plan_merge_write(std::string_view base, std::string_view mine, std::string_view theirs,
                            const write_request& request, merge_report* report) {
    require_allowed(request, "plan_merge_write");
    // In sequence (not as call arguments, whose order is unspecified): with several invalid inputs the error
    // always names the first of base, mine, theirs.
    const auto base_cache = parse_input(base, "base", true, request.limits);
    const auto mine_cache = parse_input(mine, "mine", false, request.limits);
    const auto theirs_cache = parse_input(theirs, "theirs", true, request.limits);
    auto merged = merge_three_way(base_cache, mine_cache, theirs_cache);
    if (report != nullptr) *report = merged.report;
    return write_from_dom(std::move(merged.cache), request);
}

write_plan detail::plan_write_dom(std::string_view serialized, const write_request& request) {
    return write_from_dom(token_cache::parse(serialized, request.limits), request);
}

std::string describe(const token_cache& cache) {
    json accounts = json::array();
    for (const auto& entry : cache.entries(section::account)) {
        accounts.push_back({{"home_account_id", string_field(entry, "home_account_id")},
                            {"username", string_field(entry, "username")},
                            {"environment", string_field(entry, "environment")},
                            {"realm", string_field(entry, "realm")}});
    }
    json tokens = json::array();
    for (auto kind : {section::access_token, section::refresh_token, section::id_token}) {
        for (const auto& entry : cache.entries(kind)) {
            tokens.push_back({{"kind", kind},
                              {"home_account_id", string_field(entry, "home_account_id")},
                              {"realm", string_field(entry, "realm")},
                              {"client_id", string_field(entry, "client_id")},
                              {"target", string_field(entry, "target")},
                              {"expires_on", epoch_or_null(entry, "expires_on")},
                              {"cached_at", epoch_or_null(entry, "cached_at")},
                              {"secret_bytes", string_field(entry, "secret").size()}});
        }
    }
    const json description = {{"accounts", std::move(accounts)},
                              {"tokens", std::move(tokens)},
                              {"bytes", cache.dump().size()}};
    // Replacing invalid UTF-8 keeps describe() usable on a document edited in place.
    return description.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace msalcache
