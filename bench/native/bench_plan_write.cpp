// plan_write and plan_merge_write on a signed-in session partition padded with one-scope access tokens, the shape
// bench/python/run.py stores (8 KB ~ 6 tokens, 100 KB ~ 80), in the three forms a write can reach the core in:
//   stored   - msal-node 7's keys, the cloud's preferred_cache alias (what Node writes, and Python since to_stored
//              rewrites environments): plan_write's fast path;
//   host     - msal-node 7's keys, msal-python's authority host as environment (what Python sent before): DOM path;
//   python   - msal-python's own keys and host (a cache msal-python alone wrote, imported): DOM path.
// Build: cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DMSALCACHE_TESTS=OFF -DMSALCACHE_BENCH=ON &&
//        cmake --build build/bench --target bench_plan_write && build/bench/bench_plan_write

#include <benchmark/benchmark.h>

#include <string>

#include "msalcache/credential_keys.hpp"
#include "msalcache/store_plan.hpp"

using namespace msalcache;

namespace {

constexpr const char* home = "22222222-2222-4222-8222-222222222222.11111111-1111-4111-8111-111111111111";
constexpr const char* tenant = "11111111-1111-4111-8111-111111111111";
constexpr std::int64_t now = 1700000000;

enum class form { stored, host, python };

std::string secret(std::size_t bytes, int seed) {
    std::string s(bytes, 'a');
    for (std::size_t i = 0; i < bytes; ++i) s[i] = static_cast<char>('A' + (i * 7 + static_cast<std::size_t>(seed)) % 26);
    return s;
}

json entry(const char* type, const std::string& environment, const std::string& target, int seed) {
    json e = {{"home_account_id", home}, {"environment", environment}, {"credential_type", type},
              {"client_id", "bench-client"}, {"secret", secret(type == std::string("AccessToken") ? 1200 : 800, seed)}};
    if (std::string(type) != "RefreshToken") e["realm"] = tenant;
    if (std::string(type) == "AccessToken") {
        e.update({{"target", target}, {"token_type", "Bearer"}, {"cached_at", std::to_string(now)},
                  {"expires_on", std::to_string(now + 3600)}, {"extended_expires_on", std::to_string(now + 3600)}});
    }
    return e;
}

// A session partition with `tokens` access tokens, spelled as `f`.
std::string partition(int tokens, form f, int extra_seed = 0) {
    const std::string environment = f == form::stored ? "login.windows.net" : "login.microsoftonline.com";
    const auto spelling = f == form::python ? key_spelling::msal_python : key_spelling::msal_node;
    json doc = {{"Account", json::object()}, {"IdToken", json::object()}, {"AccessToken", json::object()},
                {"RefreshToken", json::object()}, {"AppMetadata", json::object()}};
    const auto put = [&](const char* section, const json& e) {
        auto key = spell_key(section, e, spelling);
        // The host form keeps msal-node's key of the preferred alias (msal-python's key makers ask the core).
        doc[section][*key] = e;
    };
    put("Account", {{"home_account_id", home}, {"environment", environment}, {"realm", tenant},
                    {"local_account_id", "22222222"}, {"username", "bench@contoso.example"}, {"authority_type", "MSSTS"}});
    put("IdToken", entry("IdToken", environment, "", 1));
    put("RefreshToken", entry("RefreshToken", environment, "", 2));
    put("AppMetadata", {{"client_id", "bench-client"}, {"environment", environment}});
    for (int i = 0; i < tokens; ++i) {
        put("AccessToken", entry("AccessToken", environment, "api://resource-" + std::to_string(i) + "/read",
                                 i + extra_seed));
    }
    return doc.dump();
}

write_request request() {
    write_request r;
    r.allowed = {{partition_kind::account, home}};
    r.expiry.now = now;
    r.created_at = now - 60;
    return r;
}

void plan_write_case(benchmark::State& state, form f) {
    const auto text = partition(static_cast<int>(state.range(0)), f);
    const auto req = request();
    for (auto _ : state) benchmark::DoNotOptimize(plan_write(text, req));
    state.counters["bytes"] = static_cast<double>(text.size());
}

// A compare-and-set that lost: both sides refreshed one access token since the base.
void plan_merge_write_case(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    const auto base = partition(n, form::stored);
    const auto mine = partition(n, form::stored, 1);
    const auto theirs = partition(n, form::stored, 2);
    const auto req = request();
    for (auto _ : state) benchmark::DoNotOptimize(plan_merge_write(base, mine, theirs, req));
}

}  // namespace

BENCHMARK_CAPTURE(plan_write_case, stored, form::stored)->Arg(6)->Arg(12)->Arg(24)->Arg(80)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(plan_write_case, host, form::host)->Arg(6)->Arg(80)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(plan_write_case, python, form::python)->Arg(6)->Arg(80)->Unit(benchmark::kMicrosecond);
BENCHMARK(plan_merge_write_case)->Arg(6)->Arg(80)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
