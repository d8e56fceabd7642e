// Embind glue: exposes the core to JavaScript. Large payloads never cross as Embind std::string (a byte loop in JS,
// ~8 ms per MB each way); JS copies UTF-8 bytes into `input_` through a HEAPU8 view and reads `output_` the same
// way. Only small values (partition ids, numbers, error text) go through Embind conversions.
//
// Every operation returns the byte length of a small JSON "head" at the start of the output (the rest of the output
// is the payload, e.g. the cache JSON to store), or -1 after storing the error message for lastError().

#include <emscripten/bind.h>
#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "msalcache/expiry.hpp"
#include "msalcache/partition.hpp"
#include "msalcache/store_plan.hpp"
#include "msalcache/three_way_merge.hpp"
#include "msalcache/token_cache.hpp"

namespace {

using namespace msalcache;

std::string input_;
std::string output_;
std::string error_;

// Partition ids arrive as one small string, one id per line: ids never contain a newline.
std::vector<partition_id> parse_partition_ids(const std::string& lines) {
    std::vector<partition_id> ids;
    std::size_t start = 0;
    while (start < lines.size()) {
        std::size_t end = lines.find('\n', start);
        if (end == std::string::npos) end = lines.size();
        if (end > start) ids.push_back(partition_id::from_string(std::string_view(lines).substr(start, end - start)));
        start = end + 1;
    }
    return ids;
}

json string_array(const std::vector<std::string>& values) {
    json array = json::array();
    for (const auto& value : values) array.push_back(value);
    return array;
}

std::string_view input_view(std::size_t length) {
    if (length > input_.size()) throw cache_error("input length exceeds the reserved input buffer");
    return std::string_view(input_.data(), length);
}

// Runs one operation and turns any failure into -1 + lastError(), so no C++ exception ever reaches JS.
template <typename Operation>
int guarded(Operation&& operation) {
    try {
        std::string head;
        std::string payload;
        operation(head, payload);
        output_.clear();
        output_.reserve(head.size() + payload.size());
        output_.append(head).append(payload);
        return static_cast<int>(head.size());
    } catch (const std::exception& e) {
        error_ = e.what();
    } catch (...) {
        error_ = "unknown error in the cache core";
    }
    output_.clear();
    return -1;
}

parse_limits limits_of(double max_bytes) {
    parse_limits limits;
    if (max_bytes > 0) limits.max_bytes = static_cast<std::size_t>(max_bytes);
    return limits;
}

std::uintptr_t reserve_input(std::size_t length) {
    input_.resize(length);
    return reinterpret_cast<std::uintptr_t>(input_.data());
}

std::uintptr_t output_pointer() { return reinterpret_cast<std::uintptr_t>(output_.data()); }
std::size_t output_length() { return output_.size(); }
std::string last_error() { return error_; }

// Bytes currently allocated by the wasm heap: lets tests prove that repeated calls do not leak.
double allocated_bytes() { return static_cast<double>(mallinfo().uordblks); }

int plan_read_binding(std::size_t length, const std::string& allowed, double max_bytes) {
    return guarded([&](std::string& head, std::string& payload) {
        read_plan plan = plan_read(input_view(length), parse_partition_ids(allowed), limits_of(max_bytes));
        head = json{{"rewritten", !plan.rewritten.empty()},
                    {"homeAccountIds", string_array(plan.home_account_ids)},
                    {"droppedHomeAccountIds", string_array(plan.dropped_home_account_ids)}}
                   .dump();
        payload = std::move(plan.rewritten);
    });
}

// The arguments planWrite and planMergeWrite share, as a write_request.
write_request write_request_of(const std::string& allowed, int kind, double now, double skew_seconds,
                               double sliding_seconds, double absolute_seconds, double created_at, double max_bytes) {
    // An out-of-range kind would be an enum value no switch handles: refuse it rather than guess a TTL rule.
    if (kind < static_cast<int>(partition_kind::account) || kind > static_cast<int>(partition_kind::assertion)) {
        throw cache_error("unknown partition kind " + std::to_string(kind));
    }
    write_request request;
    request.allowed = parse_partition_ids(allowed);
    request.kind = static_cast<partition_kind>(kind);
    request.expiry.now = static_cast<std::int64_t>(now);
    request.expiry.skew_seconds = static_cast<std::int64_t>(skew_seconds);
    request.ttl.sliding_seconds = static_cast<std::int64_t>(sliding_seconds);
    request.ttl.absolute_seconds = static_cast<std::int64_t>(absolute_seconds);
    request.created_at = static_cast<std::int64_t>(created_at);
    request.limits = limits_of(max_bytes);
    return request;
}

// The head of planWrite and planMergeWrite (planMergeWrite adds "merge").
json write_head(const write_plan& plan) {
    return json{{"hasTokens", plan.has_tokens},
                {"ttlSeconds", plan.ttl_seconds},
                {"homeAccountIds", string_array(plan.home_account_ids)},
                {"droppedHomeAccountIds", string_array(plan.dropped_home_account_ids)},
                {"droppedEntries", plan.dropped_entries},
                {"expired",
                 {{"accessTokens", plan.expiry.removed_access_tokens},
                  {"refreshTokens", plan.expiry.removed_refresh_tokens},
                  {"idTokens", plan.expiry.removed_id_tokens},
                  {"accounts", plan.expiry.removed_accounts}}}};
}

int plan_write_binding(std::size_t length, const std::string& allowed, int kind, double now, double skew_seconds,
                       double sliding_seconds, double absolute_seconds, double created_at, double max_bytes) {
    return guarded([&](std::string& head, std::string& payload) {
        const write_request request = write_request_of(allowed, kind, now, skew_seconds, sliding_seconds,
                                                       absolute_seconds, created_at, max_bytes);
        write_plan plan = plan_write(input_view(length), request);
        head = write_head(plan).dump();
        payload = std::move(plan.cache);
    });
}

// The input holds base, mine and theirs back to back; a length of 0 for base or theirs means "absent".
int plan_merge_write_binding(std::size_t base_length, std::size_t mine_length, std::size_t theirs_length,
                             const std::string& allowed, int kind, double now, double skew_seconds,
                             double sliding_seconds, double absolute_seconds, double created_at, double max_bytes) {
    return guarded([&](std::string& head, std::string& payload) {
        const write_request request = write_request_of(allowed, kind, now, skew_seconds, sliding_seconds,
                                                       absolute_seconds, created_at, max_bytes);
        // Checked one by one: a sum of three hostile 32-bit lengths could wrap around.
        std::string_view input = input_view(input_.size());
        const auto take = [&input](std::size_t length) {
            if (length > input.size()) throw cache_error("input lengths exceed the reserved input buffer");
            const auto part = input.substr(0, length);
            input.remove_prefix(length);
            return part;
        };
        const auto base = take(base_length);
        const auto mine = take(mine_length);
        const auto theirs = take(theirs_length);
        merge_report report;
        write_plan plan = plan_merge_write(base, mine, theirs, request, &report);
        json head_json = write_head(plan);
        head_json["merge"] = {{"takenMine", report.taken_mine},
                              {"takenTheirs", report.taken_theirs},
                              {"conflicts", report.conflicts},
                              {"removed", report.removed}};
        head = head_json.dump();
        payload = std::move(plan.cache);
    });
}

int split_binding(std::size_t length, double max_bytes) {
    return guarded([&](std::string& head, std::string& payload) {
        auto partitions = split(token_cache::parse(input_view(length), limits_of(max_bytes)));
        // The payload is a JSON object {"<partition id>": <cache>, ...}, assembled from already-dumped caches.
        payload.push_back('{');
        for (std::size_t i = 0; i < partitions.size(); ++i) {
            if (i > 0) payload.push_back(',');
            payload.append(json(partitions[i].first.to_string()).dump()).push_back(':');
            payload.append(partitions[i].second.dump());
        }
        payload.push_back('}');
        head = json{{"partitions", partitions.size()}}.dump();
    });
}

int merge_binding(std::size_t length, double max_bytes) {
    return guarded([&](std::string& head, std::string& payload) {
        // The input is the partitions' caches joined by '\n': compact JSON never contains a raw newline.
        const parse_limits limits = limits_of(max_bytes);
        std::string_view text = input_view(length);
        std::vector<token_cache> partitions;
        while (!text.empty()) {
            const std::size_t end = std::min(text.find('\n'), text.size());
            partitions.push_back(token_cache::parse(text.substr(0, end), limits));
            text.remove_prefix(std::min(end + 1, text.size()));
        }
        payload = merge(partitions).dump();
        head = json{{"partitions", partitions.size()}}.dump();
    });
}

int describe_binding(std::size_t length, double max_bytes) {
    return guarded([&](std::string& head, std::string& payload) {
        head = describe(token_cache::parse(input_view(length), limits_of(max_bytes)));
        payload.clear();
    });
}

}  // namespace

EMSCRIPTEN_BINDINGS(msal_cache_core) {
    emscripten::function("reserveInput", &reserve_input);
    emscripten::function("outputPointer", &output_pointer);
    emscripten::function("outputLength", &output_length);
    emscripten::function("lastError", &last_error);
    emscripten::function("allocatedBytes", &allocated_bytes);
    emscripten::function("planRead", &plan_read_binding);
    emscripten::function("planWrite", &plan_write_binding);
    emscripten::function("planMergeWrite", &plan_merge_write_binding);
    emscripten::function("split", &split_binding);
    emscripten::function("merge", &merge_binding);
    emscripten::function("describe", &describe_binding);
}
