// pybind11 glue: exposes the core to Python as msal_redis_cache._core. Glue only: every rule lives in core/ (the same
// sources the wasm build compiles). Caches cross as str or bytes, read in place (std::string_view); the core's work
// runs without the GIL, so threads of a Python server can use it at once. A cache the core refuses raises
// CoreError (python/msal_redis_cache/core.py turns it into CacheFormatError).

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msalcache/cloud_aliases.hpp"
#include "msalcache/credential_keys.hpp"
#include "msalcache/partition.hpp"
#include "msalcache/store_plan.hpp"
#include "msalcache/three_way_merge.hpp"
#include "msalcache/token_cache.hpp"

namespace py = pybind11;
using namespace msalcache;

namespace {

std::vector<partition_id> partition_ids_of(const std::vector<std::string>& ids) {
    std::vector<partition_id> result;
    result.reserve(ids.size());
    for (const auto& id : ids) result.push_back(partition_id::from_string(id));
    return result;
}

parse_limits limits_of(std::int64_t max_bytes) {
    parse_limits limits;
    if (max_bytes > 0) limits.max_bytes = static_cast<std::size_t>(max_bytes);
    return limits;
}

// The partition kinds by the names js/msal/partitions.js gives them: they decide the core's TTL rule.
partition_kind kind_of(const std::string& kind) {
    if (kind == "account") return partition_kind::account;
    if (kind == "app") return partition_kind::app_tenant;
    if (kind == "obo") return partition_kind::assertion;
    throw cache_error("unknown partition kind " + kind);
}

// The arguments plan_write and plan_merge_write share, as a write_request.
struct request_args {
    std::vector<std::string> allowed;
    std::string kind;
    std::int64_t now, skew_seconds, sliding_seconds, absolute_seconds, created_at, max_bytes;

    write_request to_request() const {
        write_request request;
        request.allowed = partition_ids_of(allowed);
        request.kind = kind_of(kind);
        request.expiry.now = now;
        request.expiry.skew_seconds = skew_seconds;
        request.ttl.sliding_seconds = sliding_seconds;
        request.ttl.absolute_seconds = absolute_seconds;
        request.created_at = created_at;
        request.limits = limits_of(max_bytes);
        return request;
    }
};

py::dict plan_dict(write_plan& plan) {
    py::dict expired;
    expired["access_tokens"] = plan.expiry.removed_access_tokens;
    expired["refresh_tokens"] = plan.expiry.removed_refresh_tokens;
    expired["id_tokens"] = plan.expiry.removed_id_tokens;
    expired["accounts"] = plan.expiry.removed_accounts;
    py::dict head;
    head["has_tokens"] = plan.has_tokens;
    head["ttl_seconds"] = plan.ttl_seconds;
    head["home_account_ids"] = plan.home_account_ids;
    head["dropped_home_account_ids"] = plan.dropped_home_account_ids;
    head["dropped_entries"] = plan.dropped_entries;
    head["expired"] = expired;
    head["cache"] = py::bytes(plan.cache);
    return head;
}

py::dict plan_read_binding(std::string_view stored, const std::vector<std::string>& allowed, std::int64_t max_bytes) {
    const auto ids = partition_ids_of(allowed);
    read_plan plan;
    {
        py::gil_scoped_release unlocked;
        plan = plan_read(stored, ids, limits_of(max_bytes));
    }
    py::dict head;
    head["rewritten"] = plan.rewritten.empty() ? py::object(py::none()) : py::object(py::bytes(plan.rewritten));
    head["home_account_ids"] = plan.home_account_ids;
    head["dropped_home_account_ids"] = plan.dropped_home_account_ids;
    return head;
}

py::dict plan_write_binding(std::string_view serialized, const request_args& args) {
    const write_request request = args.to_request();
    write_plan plan;
    {
        py::gil_scoped_release unlocked;
        plan = plan_write(serialized, request);
    }
    return plan_dict(plan);
}

py::dict plan_merge_write_binding(std::string_view base, std::string_view mine, std::string_view theirs,
                                  const request_args& args) {
    const write_request request = args.to_request();
    write_plan plan;
    merge_report report;
    {
        py::gil_scoped_release unlocked;
        plan = plan_merge_write(base, mine, theirs, request, &report);
    }
    py::dict head = plan_dict(plan);
    py::dict merge;
    merge["taken_mine"] = report.taken_mine;
    merge["taken_theirs"] = report.taken_theirs;
    merge["conflicts"] = report.conflicts;
    merge["removed"] = report.removed;
    head["merge"] = merge;
    return head;
}

// msal-node 7's key for one entry (credential_keys.hpp's spell_key), from the entry's JSON; None when it cannot be
// built. msal-python's key makers use it, so that a cache keeps the stored spelling whichever library changes it.
std::optional<std::string> msal_node_key_binding(std::string_view section, std::string_view entry_json) {
    const json entry = json::parse(entry_json, nullptr, false);
    if (entry.is_discarded()) return std::nullopt;
    return spell_key(section, entry, key_spelling::msal_node);
}

// Deeper than this, an entry is not one msal-python made: no key (as json.dumps would refuse it, or the parse).
constexpr int max_entry_depth = 32;

// A value of an msal-python cache entry as the JSON json.dumps would write for it, built in place (msal-python's key
// makers run on every change it makes: no JSON text in between). False for what json.dumps would refuse or write as
// something the core's parser refuses (bytes, objects, non-finite numbers, non-str keys, lone surrogates): that entry
// then gets no msal-node key, as before.
bool json_of(py::handle value, json& out, int depth) {
    if (depth > max_entry_depth) return false;
    if (value.is_none()) {
        out = nullptr;
    } else if (py::isinstance<py::bool_>(value)) {
        out = value.cast<bool>();
    } else if (py::isinstance<py::str>(value)) {
        Py_ssize_t size = 0;
        const char* text = PyUnicode_AsUTF8AndSize(value.ptr(), &size);
        if (text == nullptr) {
            PyErr_Clear();  // a lone surrogate: not UTF-8
            return false;
        }
        out = std::string(text, static_cast<std::size_t>(size));
    } else if (py::isinstance<py::int_>(value)) {
        int overflow = 0;
        const long long number = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
        if (overflow != 0) {
            out = PyLong_AsDouble(value.ptr());  // as the parser reads a number past 64 bits
            if (PyErr_Occurred()) {
                PyErr_Clear();
                return false;
            }
        } else {
            out = static_cast<std::int64_t>(number);
        }
    } else if (py::isinstance<py::float_>(value)) {
        const double number = value.cast<double>();
        if (!std::isfinite(number)) return false;
        out = number;
    } else if (py::isinstance<py::dict>(value)) {
        out = json::object();
        for (const auto item : py::reinterpret_borrow<py::dict>(value)) {
            if (!py::isinstance<py::str>(item.first)) return false;
            json key;
            if (!json_of(item.first, key, depth + 1)) return false;
            if (!json_of(item.second, out[key.get_ref<const std::string&>()], depth + 1)) return false;
        }
    } else if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
        out = json::array();
        for (const auto item : value) {
            json element;
            if (!json_of(item, element, depth + 1)) return false;
            out.push_back(std::move(element));
        }
    } else {
        return false;
    }
    return true;
}

// msal_node_key for an entry given as msal-python holds it (a dict), without json.dumps and a parse.
std::optional<std::string> msal_node_key_of_binding(std::string_view section, const py::dict& entry) {
    json converted;
    if (!json_of(entry, converted, 0)) return std::nullopt;
    return spell_key(section, converted, key_spelling::msal_node);
}

std::string describe_binding(std::string_view serialized, std::int64_t max_bytes) {
    py::gil_scoped_release unlocked;
    return describe(token_cache::parse(serialized, limits_of(max_bytes)));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "The msal-redis-cache C++ core (validate, partition, expire, merge MSAL token caches).";
    py::register_exception<cache_error>(m, "CoreError", PyExc_ValueError);
    const auto request = [](const std::vector<std::string>& allowed, const std::string& kind, std::int64_t now,
                            std::int64_t skew_seconds, std::int64_t sliding_seconds, std::int64_t absolute_seconds,
                            std::int64_t created_at, std::int64_t max_bytes) {
        return request_args{allowed, kind, now, skew_seconds, sliding_seconds, absolute_seconds, created_at, max_bytes};
    };
    m.def("plan_read", &plan_read_binding, py::arg("stored"), py::arg("allowed"), py::arg("max_bytes") = 0,
          "Validates a stored cache and keeps it to `allowed` partition ids ([] keeps everything).");
    m.def(
        "plan_write",
        [request](std::string_view serialized, const std::vector<std::string>& allowed, const std::string& kind,
                  std::int64_t now, std::int64_t skew_seconds, std::int64_t sliding_seconds,
                  std::int64_t absolute_seconds, std::int64_t created_at, std::int64_t max_bytes) {
            return plan_write_binding(serialized, request(allowed, kind, now, skew_seconds, sliding_seconds,
                                                          absolute_seconds, created_at, max_bytes));
        },
        py::arg("serialized"), py::arg("allowed"), py::arg("kind"), py::arg("now"), py::arg("skew_seconds"),
        py::arg("sliding_seconds"), py::arg("absolute_seconds"), py::arg("created_at"), py::arg("max_bytes") = 0,
        "Restricts a cache to `allowed`, sweeps expired tokens and computes the partition's TTL.");
    m.def(
        "plan_merge_write",
        [request](std::string_view base, std::string_view mine, std::string_view theirs,
                  const std::vector<std::string>& allowed, const std::string& kind, std::int64_t now,
                  std::int64_t skew_seconds, std::int64_t sliding_seconds, std::int64_t absolute_seconds,
                  std::int64_t created_at, std::int64_t max_bytes) {
            return plan_merge_write_binding(base, mine, theirs,
                                            request(allowed, kind, now, skew_seconds, sliding_seconds,
                                                    absolute_seconds, created_at, max_bytes));
        },
        py::arg("base"), py::arg("mine"), py::arg("theirs"), py::arg("allowed"), py::arg("kind"), py::arg("now"),
        py::arg("skew_seconds"), py::arg("sliding_seconds"), py::arg("absolute_seconds"), py::arg("created_at"),
        py::arg("max_bytes") = 0,
        "plan_write after a failed compare-and-set: a three-way merge of mine and theirs against base first.");
    m.def("msal_node_key", &msal_node_key_binding, py::arg("section"), py::arg("entry_json"),
          "msal-node 7's key for one cache entry of a section (AccessToken, ...), or None when it cannot be built.");
    m.def("msal_node_key_of", &msal_node_key_of_binding, py::arg("section"), py::arg("entry"),
          "msal_node_key for an entry given as a dict (as json.dumps would write it), without a JSON text between.");
    m.def(
        "cache_environment", [](std::string_view host) { return std::string(cache_environment(host)); },
        py::arg("host"),
        "The environment partitions store entries of `host` under: its cloud's preferred_cache alias, else `host`.");
    m.def("describe", &describe_binding, py::arg("serialized"), py::arg("max_bytes") = 0,
          "A secret-free description of a cache, as JSON.");
}
