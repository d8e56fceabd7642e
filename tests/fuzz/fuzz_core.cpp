// libFuzzer target for the core's input-facing code: token_cache::parse, plan_read, plan_write (its fast and DOM
// paths against each other) and plan_merge_write. Built by `scripts/fuzz.sh` (CMake option MSALCACHE_FUZZ) with
// clang and -fsanitize=fuzzer,address,undefined.
//
// Input layout: one control byte (which partition is allowed, the clock), then up to three caches separated by NUL
// bytes (a raw NUL is never valid JSON, so no cache loses anything by the split): "mine", "mine\0theirs" or
// "base\0mine\0theirs"; a missing base or theirs is empty, i.e. "no stored cache".
//
// cache_error is the only failure the core may report; any other exception, a sanitizer report, or a broken
// invariant below is a crash.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../../core/src/cache_index.hpp"
#include "msalcache/cloud_aliases.hpp"
#include "msalcache/credential_keys.hpp"
#include "msalcache/store_plan.hpp"
#include "msalcache/three_way_merge.hpp"

namespace {

using namespace msalcache;

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "fuzz_core invariant broken: %s\n%.*s\n", what, static_cast<int>(detail.size()),
                 detail.data());
    std::abort();
}

void check(bool ok, const char* what, std::string_view detail = {}) {
    if (!ok) fail(what, detail);
}

// Ids from tests/cpp/fixtures.hpp, so the seed corpus' caches hold entries of every kind of partition.
constexpr const char* alice = "a1b2c3d4-1111-4e5f-8a9b-0c1d2e3f4a5b.72f988bf-86f1-41af-91ab-2d7cd011db47";
constexpr const char* bob = "b2c3d4e5-2222-4f60-9bac-1d2e3f4a5b6c.9188040d-6c67-4c5b-b112-36a304b66dad";
constexpr const char* tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
constexpr const char* assertion_hash = "nN6Wq2r1Zb3-_x9kQ7vYtA8uJ5cL0mH2dF4gS6pE1oI";
constexpr std::int64_t now = 1700000000;

write_request request_for(std::uint8_t control) {
    static const std::vector<std::vector<partition_id>> allowed_sets = {
        {{partition_kind::account, alice}},
        {{partition_kind::account, bob}},
        {{partition_kind::app_tenant, tenant}},
        {{partition_kind::assertion, assertion_hash}},
        {{partition_kind::account, alice}, {partition_kind::app_tenant, "t"}},
        {{partition_kind::app_tenant, ""}},
        {{partition_kind::account, "x"}},
        {{partition_kind::assertion, ""}},
    };
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    constexpr auto min = std::numeric_limits<std::int64_t>::min();
    static const std::int64_t clocks[] = {now, now + 3500, now + 4000, now - 100, 0, max, min, now + 86400 * 20};
    write_request request;
    request.allowed = allowed_sets[control & 7];
    request.kind = request.allowed.front().kind;
    request.expiry.now = clocks[(control >> 3) & 7];
    // A partition created a minute ago, or at the epoch (past any absolute lifetime for a real clock). The clock may
    // be INT64_MIN: the fuzzer's own arithmetic must not overflow either.
    request.created_at = (control & 0x40) && request.expiry.now > 0 ? request.expiry.now - 60 : 0;
    if (control & 0x80) request.expiry.skew_seconds = 0;
    return request;
}

template <typename Action>
auto attempt(Action&& action) -> std::optional<decltype(action())> {
    try {
        return action();
    } catch (const cache_error&) {
        return std::nullopt;
    }
}

bool same_plan(const write_plan& a, const write_plan& b) {
    return a.has_tokens == b.has_tokens && a.ttl_seconds == b.ttl_seconds && a.home_account_ids == b.home_account_ids &&
           a.dropped_home_account_ids == b.dropped_home_account_ids && a.dropped_entries == b.dropped_entries &&
           a.expiry.removed_access_tokens == b.expiry.removed_access_tokens &&
           a.expiry.removed_refresh_tokens == b.expiry.removed_refresh_tokens &&
           a.expiry.removed_id_tokens == b.expiry.removed_id_tokens &&
           a.expiry.removed_accounts == b.expiry.removed_accounts && a.expiry.has_tokens == b.expiry.has_tokens;
}

// Order-insensitive JSON value (nlohmann::json sorts object keys): output texts may order members differently.
nlohmann::json value_of(std::string_view text) { return nlohmann::json::parse(text); }

void check_plan_shape(const write_plan& plan, std::string_view input) {
    check(plan.has_tokens == (plan.ttl_seconds > 0) && plan.has_tokens == !plan.cache.empty(),
          "has_tokens, ttl_seconds and cache disagree", input);
}

// parse: a valid cache dumps to text that parses back to the same bytes. Returns the cache for the merge checks.
std::optional<token_cache> fuzz_parse(std::string_view text) {
    auto cache = attempt([&] { return token_cache::parse(text); });
    if (!cache) return cache;
    const auto dumped = cache->dump();
    check(token_cache::parse(dumped).dump() == dumped, "dump(parse(dump)) differs", text);
    (void)describe(*cache);
    return cache;
}

// rekey: never loses an entry of one cache but the duplicates it collapses, whatever the spelling; the same
// credentials under either spelling; idempotent.
void fuzz_rekey(const token_cache& cache) {
    const auto entries = [](const token_cache& c) {
        std::size_t n = 0;
        for (auto name : {"Account", "IdToken", "AccessToken", "RefreshToken", "AppMetadata"}) n += c.entries(name).size();
        return n;
    };
    rekey_report to_node;
    rekey_report to_python;
    const auto node = rekey(cache, key_spelling::msal_node, &to_node);
    const auto python = rekey(cache, key_spelling::msal_python, &to_python);
    check(to_node.dropped == 0 && to_python.dropped == 0, "rekey dropped an entry of one cache", cache.dump());
    check(entries(node) == entries(cache) - to_node.collapsed, "rekey lost an entry", cache.dump());
    check(entries(python) == entries(node), "the spellings disagree on what is one credential", cache.dump());
    check(rekey(node, key_spelling::msal_node).dump() == node.dump(), "rekey is not idempotent", cache.dump());
    check(entries(rekey(python, key_spelling::msal_node)) == entries(node), "a round trip lost an entry",
          cache.dump());
    // Under msal-node's spelling every entry the core keyed is stored under its cloud's preferred_cache alias.
    for (auto name : {"Account", "IdToken", "AccessToken", "RefreshToken", "AppMetadata"}) {
        for (const auto& [key, entry] : node.entries(name).items()) {
            if (!credential_identity(name, key, entry) || spell_key(name, entry, key_spelling::msal_node, key) != key) {
                continue;
            }
            const auto environment = string_field(entry, "environment");
            check(cache_environment(environment) == environment, "an entry is not under its cloud's stored host",
                  cache.dump());
        }
    }
}

// plan_write's fast path never accepts what the DOM path rejects, and agrees with it when both accept (plan_write
// itself only chooses between the two). plan_read runs on the same text.
void fuzz_plan_write(std::string_view text, bool valid, const write_request& request) {
    const bool read_ok = attempt([&] { return plan_read(text, request.allowed); }).has_value();
    check(read_ok == valid, "plan_read and parse disagree", text);
    const auto fast = attempt([&] { return detail::plan_write_fast(text, request); });
    check(fast.has_value(), "plan_write_fast threw instead of returning nullopt", text);
    const auto dom = attempt([&] { return detail::plan_write_dom(text, request); });
    check(dom.has_value() == valid, "the DOM path and parse disagree", text);
    if (!*fast) return;
    check(dom.has_value(), "fast path accepted what the DOM path rejects", text);
    check(same_plan(**fast, *dom), "fast and DOM plans differ", text);
    check_plan_shape(*dom, text);
    check((**fast).cache.empty() == dom->cache.empty(), "fast and DOM caches differ in emptiness", text);
    if (!dom->cache.empty()) {
        check(value_of((**fast).cache) == value_of(dom->cache), "fast and DOM caches differ", text);
    }
}

// parts and caches: base, mine, theirs; an empty base or theirs is the empty cache.
void fuzz_merge(const std::string_view (&parts)[3], const std::optional<token_cache> (&caches)[3],
                const write_request& request) {
    merge_report report;
    const auto plan = attempt([&] { return plan_merge_write(parts[0], parts[1], parts[2], request, &report); });
    const bool valid = caches[0] && caches[1] && caches[2];
    check(plan.has_value() == valid, "plan_merge_write and parse disagree on validity", parts[1]);
    if (!plan) return;
    check_plan_shape(*plan, parts[1]);
    check(report.conflicts <= report.taken_mine + report.taken_theirs + report.removed, "conflicts over decisions");
    if (plan->has_tokens) {
        // What is stored is a valid cache, and planning it again keeps every token and the TTL (not necessarily
        // every byte: restrict_to runs before the sweep, so AppMetadata of swept tokens goes only on a second pass).
        const auto again = attempt([&] { return plan_write(plan->cache, request); });
        check(again.has_value(), "merged output is not a valid cache", plan->cache);
        check(again->has_tokens && again->ttl_seconds == plan->ttl_seconds && again->dropped_entries == 0,
              "planning the merged output again changes its tokens or TTL", plan->cache);
    }

    const auto& [b, m, t] = caches;
    // Agreement: when both sides hold the same cache, the merge is that cache, byte for byte, with one entry per
    // credential under msal-node's key (rekey's rule), and counts nothing.
    const auto same_sides = merge_three_way(*b, *m, *m);
    check(same_sides.cache.dump() == rekey(*m, key_spelling::msal_node).dump(), "merge(b, m, m) != rekey(m)",
          parts[1]);
    check(same_sides.report.taken_mine + same_sides.report.taken_theirs + same_sides.report.removed == 0,
          "merge(b, m, m) counted decisions");
    // Symmetry: without a conflict no rule depends on the side, so swapping mine and theirs gives the same value.
    const auto forward = merge_three_way(*b, *m, *t);
    const auto backward = merge_three_way(*b, *t, *m);
    // The same merge as inside plan_merge_write, on caches parsed separately: the same decisions.
    check(forward.report.taken_mine == report.taken_mine && forward.report.taken_theirs == report.taken_theirs &&
              forward.report.conflicts == report.conflicts && forward.report.removed == report.removed &&
              forward.report.key_clashes == report.key_clashes,
          "merge is not deterministic");
    // Conflicts on one credential; a key clash between two (key_clashes) can depend on another conflict's winner.
    check(forward.report.conflicts - forward.report.key_clashes ==
              backward.report.conflicts - backward.report.key_clashes,
          "conflict count depends on the side");
    if (forward.report.conflicts == 0) {
        check(value_of(forward.cache.dump()) == value_of(backward.cache.dump()), "merge is not symmetric", parts[1]);
        check(forward.report.taken_mine == backward.report.taken_theirs, "taken counts are not symmetric");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const auto request = request_for(data[0]);
    std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    std::vector<std::string_view> fields;
    while (fields.size() < 2) {
        const auto end = rest.find('\0');
        if (end == std::string_view::npos) break;
        fields.push_back(rest.substr(0, end));
        rest.remove_prefix(end + 1);
    }
    fields.push_back(rest);
    // One field: mine alone; two: mine and theirs (no base); three: base, mine, theirs.
    std::string_view parts[3];  // base, mine, theirs
    if (fields.size() == 3) {
        parts[0] = fields[0], parts[1] = fields[1], parts[2] = fields[2];
    } else {
        parts[1] = fields[0];
        if (fields.size() == 2) parts[2] = fields[1];
    }

    std::optional<token_cache> caches[3];
    for (int i = 0; i < 3; ++i) {
        if (parts[i].empty()) {
            if (i != 1) caches[i] = token_cache();  // no stored cache
            continue;
        }
        caches[i] = fuzz_parse(parts[i]);
        if (caches[i]) fuzz_rekey(*caches[i]);
        fuzz_plan_write(parts[i], caches[i].has_value(), request);
    }
    if (parts[1].empty()) check(!attempt([&] { return token_cache::parse(parts[1]); }), "empty text parsed");
    fuzz_merge(parts, caches, request);
    return 0;
}
