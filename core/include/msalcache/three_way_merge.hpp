#pragma once
// Three-way merge of token caches, for a compare-and-set write that lost the race: `base` is what this request
// loaded, `mine` what msal holds now, `theirs` what another server stored meanwhile. Pure function of its inputs.
//
// The unit of merging is an entry: in a known section a credential (credential_keys.hpp: the same credential under
// another library's key spelling, on one side or across sides, is one entry; of two on one side rekey's rule keeps
// one), elsewhere a section name plus an entry key. Entries are compared as JSON values (object
// key order does not count; 1 and "1" differ), absence included. For each entry:
//   1. mine == base (both may be absent)   -> theirs (its absence too: the other server removed it);
//   2. theirs == base                      -> mine (its absence too: this request removed it);
//   3. mine == theirs                      -> that value;
//   4. otherwise a conflict (counted):
//      - one side removed it, the other changed it -> the changed one (a removal never beats a newer token);
//      - AccessToken -> the later expires_on, then the later cached_at (strings of digits or integers, read with
//        epoch_field; an absent one counts as earliest), then mine;
//      - RefreshToken, IdToken, Account, AppMetadata and unknown sections -> mine: this request has just received
//        it from the identity provider, and a refresh token's lifetime is not in the cache.
// Known sections (Account, IdToken, AccessToken, RefreshToken, AppMetadata) are objects of objects; an absent one
// has no entries. An unknown top-level section is merged entry by entry when mine's and theirs' values are both
// objects of objects and base's is one too or absent (a new section written on both sides); otherwise its whole
// value is one entry under the same rules (a conflict keeps mine). Whole entries are taken, so unknown fields
// inside them survive.
//
// Output order is deterministic: sections in theirs' order, then sections only in mine in mine's order; within a
// section theirs' entries in theirs' order (replaced in place when mine wins, left out when the result is absent),
// then entries only in mine in mine's order; a known section's entries under msal-node 7's key (rekey's rule). A
// known section that ends up empty is kept as `{}` when mine or theirs had it, and left out otherwise.

#include <cstddef>

#include "msalcache/token_cache.hpp"

namespace msalcache {

// Only entries on which mine and theirs disagree are counted, each once in taken_mine, taken_theirs or removed
// (their sum is the number of such entries); conflicts counts those among them that changed on both sides.
struct merge_report {
    std::size_t taken_mine = 0;    // the result holds mine's value (what this request adds over theirs)
    std::size_t taken_theirs = 0;  // the result holds theirs' value (what this request learns from theirs)
    std::size_t conflicts = 0;     // changed on both sides since base (rule 4)
    std::size_t removed = 0;       // the result has no entry: one side's removal was applied
    // Of conflicts: two different credentials that want one key (keys that spell none of their entry's fields), of
    // which the key keeps one. Whether that happens can depend on which side won another conflict.
    std::size_t key_clashes = 0;
};

struct merge_result {
    token_cache cache;
    merge_report report;
};

// Throws cache_error when a document is not an object, when a known section is not an object, or when an
// AccessToken timestamp that rule 4 reads is neither a string of digits nor an integer (parsed caches never are).
merge_result merge_three_way(const token_cache& base, const token_cache& mine, const token_cache& theirs);

}  // namespace msalcache
