// Embind glue: exposes the core to JavaScript. Text never crosses as Embind std::string (a byte loop in JS, ~8 ms per
// MB each way, plus a malloc per call): JS copies UTF-8 bytes (the caches, then the allowed partition ids) back to
// back into `input_` through a HEAPU8 view and reads the head and the payload the same way. Only numbers and error
// text go through Embind conversions.
//
// Every operation writes a small JSON "head" (headPointer(), the length it returns) and a payload (payloadPointer(),
// payloadLength(): e.g. the cache JSON to store, moved out of the plan, never copied), or returns -1 after storing
// the error message for lastError().

#include <emscripten/bind.h>
#include <malloc.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "msalcache/expiry.hpp"
#include "msalcache/partition.hpp"
#include "msalcache/store_plan.hpp"
#include "msalcache/three_way_merge.hpp"
#include "msalcache/token_cache.hpp"

namespace {

using namespace msalcache;

std::string input_;
std::string head_;
std::string payload_;
std::string error_;

// Partition ids arrive as one small text, one id per line: ids never contain a newline.
std::vector<partition_id> parse_partition_ids(std::string_view lines) {
    std::vector<partition_id> ids;
    std::size_t start = 0;
    while (start < lines.size()) {
        std::size_t end = lines.find('\n', start);
        if (end == std::string_view::npos) end = lines.size();
        if (end > start) ids.push_back(partition_id::from_string(lines.substr(start, end - start)));
        start = end + 1;
    }
    return ids;
}

// The heads of planRead, planWrite and planMergeWrite, written by hand: they are small and flat, and building and
// dumping an nlohmann DOM for them cost a third of planWrite on an 8 KB partition. Strings come from parsed caches
// (valid UTF-8): only the quote, the backslash and control characters need escaping for JSON.parse.
class head_writer {
  public:
    // Opens the head object; the last close() ends it.
    explicit head_writer(std::string& out) : out_(out) {
        out_.clear();
        out_ += '{';
    }

    head_writer& boolean(std::string_view name, bool value) {
        key(name);
        out_ += value ? "true" : "false";
        return *this;
    }
    head_writer& integer(std::string_view name, std::int64_t value) {
        key(name);
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
        out_.append(digits, end);
        return *this;
    }
    head_writer& strings(std::string_view name, const std::vector<std::string>& values) {
        key(name);
        out_ += '[';
        for (std::size_t i = 0; i < values.size(); ++i) {
            if (i > 0) out_ += ',';
            string(values[i]);
        }
        out_ += ']';
        return *this;
    }
    // A nested object: its members follow, up to its close().
    head_writer& open(std::string_view name) {
        key(name);
        out_ += '{';
        return *this;
    }
    head_writer& close() {
        out_ += '}';
        return *this;
    }

  private:
    void key(std::string_view name) {
        if (out_.back() != '{') out_ += ',';
        out_ += '"';
        out_ += name;
        out_ += "\":";
    }
    void string(std::string_view text) {
        static constexpr char hex[] = "0123456789abcdef";
        out_ += '"';
        std::size_t plain = 0;  // start of the run of bytes copied as they are
        for (std::size_t i = 0; i < text.size(); ++i) {
            const auto byte = static_cast<unsigned char>(text[i]);
            if (byte >= 0x20 && byte != '"' && byte != '\\') continue;
            out_.append(text.data() + plain, i - plain);
            plain = i + 1;
            if (byte < 0x20) {
                out_ += "\\u00";
                out_ += hex[byte >> 4];
                out_ += hex[byte & 0xF];
            } else {
                out_ += '\\';
                out_ += static_cast<char>(byte);
            }
        }
        out_.append(text.data() + plain, text.size() - plain);
        out_ += '"';
    }

    std::string& out_;
};

std::string_view input_view(std::size_t length) {
    if (length > input_.size()) throw cache_error("input length exceeds the reserved input buffer");
    return std::string_view(input_.data(), length);
}

// The parts JS wrote back to back into the input buffer, in order. Each length is checked on its own: a sum of
// hostile 32-bit lengths could wrap around.
class input_parts {
  public:
    std::string_view take(std::size_t length) {
        if (length > rest_.size()) throw cache_error("input lengths exceed the reserved input buffer");
        const auto part = rest_.substr(0, length);
        rest_.remove_prefix(length);
        return part;
    }

  private:
    std::string_view rest_{input_};
};

// Runs one operation, which fills head_ and payload_, and turns any failure into -1 + lastError(), so no C++
// exception ever reaches JS.
template <typename Operation>
int guarded(Operation&& operation) {
    try {
        head_.clear();
        payload_.clear();
        operation(head_, payload_);
        return static_cast<int>(head_.size());
    } catch (const std::exception& e) {
        error_ = e.what();
    } catch (...) {
        error_ = "unknown error in the cache core";
    }
    head_.clear();
    payload_.clear();
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

std::uintptr_t head_pointer() { return reinterpret_cast<std::uintptr_t>(head_.data()); }
std::uintptr_t payload_pointer() { return reinterpret_cast<std::uintptr_t>(payload_.data()); }
std::size_t payload_length() { return payload_.size(); }
std::string last_error() { return error_; }

// Bytes currently allocated by the wasm heap: lets tests prove that repeated calls do not leak.
double allocated_bytes() { return static_cast<double>(mallinfo().uordblks); }

// The input holds the stored cache, then the allowed ids.
int plan_read_binding(std::size_t length, std::size_t allowed_length, double max_bytes) {
    return guarded([&](std::string& head, std::string& payload) {
        input_parts input;
        const auto stored = input.take(length);
        const auto allowed = parse_partition_ids(input.take(allowed_length));
        read_plan plan = plan_read(stored, allowed, limits_of(max_bytes));
        head_writer(head)
            .boolean("rewritten", !plan.rewritten.empty())
            .strings("homeAccountIds", plan.home_account_ids)
            .strings("droppedHomeAccountIds", plan.dropped_home_account_ids)
            .close();
        payload = std::move(plan.rewritten);
    });
}

// The arguments planWrite and planMergeWrite share, as a write_request.
write_request write_request_of(std::string_view allowed, int kind, double now, double skew_seconds,
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

// The members of planWrite's and planMergeWrite's heads (planMergeWrite adds "merge").
void write_head(head_writer& head, const write_plan& plan) {
    const auto count = [](std::size_t n) { return static_cast<std::int64_t>(n); };
    head.boolean("hasTokens", plan.has_tokens)
        .integer("ttlSeconds", plan.ttl_seconds)
        .strings("homeAccountIds", plan.home_account_ids)
        .strings("droppedHomeAccountIds", plan.dropped_home_account_ids)
        .integer("droppedEntries", count(plan.dropped_entries))
        .open("expired")
        .integer("accessTokens", count(plan.expiry.removed_access_tokens))
        .integer("refreshTokens", count(plan.expiry.removed_refresh_tokens))
        .integer("idTokens", count(plan.expiry.removed_id_tokens))
        .integer("accounts", count(plan.expiry.removed_accounts))
        .close();
}

// The input holds msal's serialized cache, then the allowed ids.
int plan_write_binding(std::size_t length, std::size_t allowed_length, int kind, double now, double skew_seconds,
                       double sliding_seconds, double absolute_seconds, double created_at, double max_bytes) {
    return guarded([&](std::string& head, std::string& payload) {
        input_parts input;
        const auto serialized = input.take(length);
        const write_request request = write_request_of(input.take(allowed_length), kind, now, skew_seconds,
                                                       sliding_seconds, absolute_seconds, created_at, max_bytes);
        write_plan plan = plan_write(serialized, request);
        head_writer writer(head);
        write_head(writer, plan);
        writer.close();
        payload = std::move(plan.cache);
    });
}

// The input holds base, mine, theirs and the allowed ids back to back; a length of 0 for base or theirs means
// "absent".
int plan_merge_write_binding(std::size_t base_length, std::size_t mine_length, std::size_t theirs_length,
                             std::size_t allowed_length, int kind, double now, double skew_seconds,
                             double sliding_seconds, double absolute_seconds, double created_at, double max_bytes) {
    return guarded([&](std::string& head, std::string& payload) {
        input_parts input;
        const auto base = input.take(base_length);
        const auto mine = input.take(mine_length);
        const auto theirs = input.take(theirs_length);
        const write_request request = write_request_of(input.take(allowed_length), kind, now, skew_seconds,
                                                       sliding_seconds, absolute_seconds, created_at, max_bytes);
        merge_report report;
        write_plan plan = plan_merge_write(base, mine, theirs, request, &report);
        head_writer writer(head);
        write_head(writer, plan);
        writer.open("merge")
            .integer("takenMine", static_cast<std::int64_t>(report.taken_mine))
            .integer("takenTheirs", static_cast<std::int64_t>(report.taken_theirs))
            .integer("conflicts", static_cast<std::int64_t>(report.conflicts))
            .integer("removed", static_cast<std::int64_t>(report.removed))
            .close()
            .close();
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
    emscripten::function("headPointer", &head_pointer);
    emscripten::function("payloadPointer", &payload_pointer);
    emscripten::function("payloadLength", &payload_length);
    emscripten::function("lastError", &last_error);
    emscripten::function("allocatedBytes", &allocated_bytes);
    emscripten::function("planRead", &plan_read_binding);
    emscripten::function("planWrite", &plan_write_binding);
    emscripten::function("planMergeWrite", &plan_merge_write_binding);
    emscripten::function("split", &split_binding);
    emscripten::function("merge", &merge_binding);
    emscripten::function("describe", &describe_binding);
}
