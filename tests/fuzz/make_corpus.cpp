// Writes libFuzzer seeds for fuzz_core into a directory: the caches of tests/cpp/fixtures.hpp, alone and as
// base/mine/theirs triples shaped like real compare-and-set races (both sides refreshed a token, one removed an
// account, a foreign account or an unknown section appeared). Generated rather than checked in, so the seeds follow
// the fixtures. Usage: make_fuzz_corpus <directory>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "../cpp/fixtures.hpp"

namespace {

using fixtures::alice;
using fixtures::bob;
using fixtures::carol;
using fixtures::cache_builder;
using fixtures::now;
using msalcache::json;

// The control byte chooses the allowed partition and the clock (see request_for in fuzz_core.cpp).
std::string seed(unsigned char control, const std::vector<std::string>& caches) {
    std::string out(1, static_cast<char>(control));
    for (std::size_t i = 0; i < caches.size(); ++i) {
        if (i > 0) out.push_back('\0');
        out += caches[i];
    }
    return out;
}

std::string with(const std::string& text, const std::string& section, const std::string& key, const json& value) {
    json doc = json::parse(text);
    doc[section][key] = value;
    return doc.dump();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <directory>\n", argv[0]);
        return 2;
    }
    const std::string msal = fixtures::msal_node_cache();
    const auto alice_only = cache_builder().account(alice).id_token(alice).user_token(alice, now + 3600)
                                .refresh_token(alice).app_metadata().text();
    const auto alice_refreshed = cache_builder().account(alice).id_token(alice).user_token(alice, now + 7200)
                                     .refresh_token(alice).app_metadata().text();
    const auto alice_more = cache_builder().account(alice).id_token(alice).user_token(alice, now + 3600)
                                .access_token(alice, fixtures::tenant, json(now + 5000), "mail.read")
                                .refresh_token(alice, now + 90000).app_metadata().text();
    const auto with_bob = cache_builder().account(alice).user_token(alice, now + 3600).refresh_token(alice)
                              .account(bob).id_token(bob).user_token(bob, now + 3600).refresh_token(bob).text();
    const auto apps = cache_builder().app_token(fixtures::tenant, now + 3600).app_token("t", now - 5)
                          .app_token(fixtures::tenant, now + 100, "other-client").app_metadata().text();
    const auto obo = cache_builder().account(carol).obo_token(carol, fixtures::assertion_hash, now + 3600)
                         .refresh_token(carol, std::nullopt, fixtures::assertion_hash).text();
    // Another library's spellings (credential_keys.hpp): msal-python's keys beside msal-node's for the same tokens,
    // and Go 1.0's mixed case.
    auto python_doc = json::parse(alice_only);
    for (auto [section, from, to] : {std::tuple{"AccessToken", "user.read openid profile-", "user.read openid profile"},
                                     std::tuple{"IdToken", "--", "-"}, std::tuple{"RefreshToken", "---", "--openid"}}) {
        auto& entries = python_doc[section];
        const auto key = entries.begin().key();
        auto entry = entries.begin().value();
        auto python = entry;
        if (std::string(section) == "RefreshToken") python["target"] = "openid";
        entries[key.substr(0, key.size() - std::string(from).size()) + to] = python;
        entry["secret"] = "other";
        entries[key] = entry;
    }
    const auto python_spelled = python_doc.dump();
    auto go_doc = json::parse(alice_only);
    for (auto& [section, entries] : go_doc.items()) {
        json copy = entries;
        for (auto& [key, entry] : copy.items()) {
            auto upper = key;
            for (auto kind : {"accesstoken", "refreshtoken", "idtoken", "appmetadata"}) {
                const auto at = upper.find(kind);
                if (at != std::string::npos) upper[at] = static_cast<char>(std::toupper(upper[at]));
            }
            entries[upper] = entry;
        }
    }
    const auto go_spelled = go_doc.dump();
    const auto unknown = with(alice_only, "Ext", "e", json{{"v", 1}, {"list", {1, "two", nullptr}}});
    const auto unknown_changed = with(alice_only, "Ext", "e", json{{"v", 2}});

    const std::vector<std::string> seeds = {
        seed(0, {msal}),
        seed(2, {msal}),
        seed(3 | 0x40, {msal}),
        seed(0x08, {alice_only, alice_refreshed}),
        seed(0, {alice_only, alice_refreshed, alice_more}),
        seed(0x10, {alice_only, alice_more, alice_refreshed}),
        seed(0, {alice_only, alice_only, with_bob}),
        seed(1, {"", with_bob, alice_only}),
        seed(2 | 0x40, {apps, apps, cache_builder().app_token(fixtures::tenant, now + 9000).text()}),
        seed(3, {obo, obo, msal}),
        seed(0, {unknown, unknown_changed, with(unknown, "Ext", "f", json::object())}),
        seed(0, {"{}", R"({"X":[1,{"a":null}],"Y":"s"})", R"({"X":{"a":{}},"Y":2.5})"}),
        seed(0x80, {"", "{}", ""}),
        seed(0, {python_spelled}),
        seed(0, {alice_only, python_spelled, alice_refreshed}),
        seed(0x08, {go_spelled, alice_only}),
    };
    for (std::size_t i = 0; i < seeds.size(); ++i) {
        const std::string path = std::string(argv[1]) + "/seed-" + std::to_string(i);
        std::ofstream(path, std::ios::binary) << seeds[i];
    }
    return 0;
}
