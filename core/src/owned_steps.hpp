#pragma once
// rekey and restrict_to on a cache the caller owns and discards afterwards: entries are moved into the result instead
// of copied. plan_write's DOM path and plan_merge_write run both on their own parse (or merge), and copying every
// token secret twice was most of their allocation work. Not part of the public API.

#include <vector>

#include "msalcache/credential_keys.hpp"
#include "msalcache/partition.hpp"
#include "msalcache/token_cache.hpp"

namespace msalcache::detail {

// rekey(cache, spelling, report), leaving `cache` with moved-from entries.
token_cache rekey_owned(token_cache&& cache, key_spelling spelling, rekey_report* report = nullptr);

// restrict_to(cache, allowed), leaving `cache` with moved-from entries.
restrict_result restrict_owned(token_cache&& cache, const std::vector<partition_id>& allowed);

}  // namespace msalcache::detail
