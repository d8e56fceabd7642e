#pragma once
// The lexical half of cache_index's scanner: strict JSON, as parse_strict accepts it. Not part of the public API.

#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

#include "msalcache/token_cache.hpp"

namespace msalcache::detail {

// Objects up to this many keys are searched linearly for duplicates; larger ones (a section of thousands of
// entries) switch to a hash set, so the check stays linear in the input.
inline constexpr std::size_t linear_search_limit = 16;

// Bytes that end a run of plain string characters: the quote, the backslash, control characters and non-ASCII.
constexpr std::array<bool, 256> make_string_stops() {
    std::array<bool, 256> stops{};
    for (std::size_t byte = 0; byte < 256; ++byte) {
        stops[byte] = byte < 0x20 || byte >= 0x80 || byte == '"' || byte == '\\';
    }
    return stops;
}
inline constexpr auto string_stops = make_string_stops();

// String equality, eight bytes at a time. Keys and ids are long (70+ bytes) and often equal or share long prefixes,
// and in wasm memcmp is a byte loop.
inline bool same_text(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    if (a.data() == b.data()) return true;
    const char* x = a.data();
    const char* y = b.data();
    std::size_t n = a.size();
    for (; n >= 8; n -= 8, x += 8, y += 8) {
        std::uint64_t u = 0, v = 0;
        std::memcpy(&u, x, 8);
        std::memcpy(&v, y, 8);
        if (u != v) return false;
    }
    for (; n != 0; --n, ++x, ++y) {
        if (*x != *y) return false;
    }
    return true;
}

// A hash of a key eight bytes at a time, for the duplicate check of large objects (a section of many entries): keys
// are long (150+ bytes), and std::hash reads four bytes per step in wasm. With same_text as equality.
struct text_hash {
    std::size_t operator()(std::string_view text) const {
        constexpr std::uint64_t multiplier = 0x9E3779B97F4A7C15u;
        std::uint64_t hash = text.size() * multiplier;
        const char* p = text.data();
        std::size_t n = text.size();
        for (; n >= 8; n -= 8, p += 8) {
            std::uint64_t word = 0;
            std::memcpy(&word, p, 8);
            hash = (hash ^ word) * multiplier;
            hash ^= hash >> 29;
        }
        std::uint64_t tail = 0;
        if (n != 0) std::memcpy(&tail, p, n);
        hash = (hash ^ tail) * multiplier;
        return static_cast<std::size_t>(hash ^ (hash >> 32));
    }
};

struct text_equal {
    bool operator()(std::string_view a, std::string_view b) const { return same_text(a, b); }
};

using text_set = std::unordered_set<std::string_view, text_hash, text_equal>;

inline void append_utf8(std::string& out, std::uint32_t code_point) {
    if (code_point < 0x80) {
        out += static_cast<char>(code_point);
    } else if (code_point < 0x800) {
        out += static_cast<char>(0xC0 | (code_point >> 6));
        out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else if (code_point < 0x10000) {
        out += static_cast<char>(0xE0 | (code_point >> 12));
        out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (code_point >> 18));
        out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code_point & 0x3F));
    }
}

// Recursive descent over RFC 8259 with the DOM parser's extra rules (duplicate keys, max_depth). Every method
// returns false on anything parse_strict would reject; the scan is then abandoned, so no state is restored.
// Derived classes walk the structure they care about and call value() for the rest.
class json_scanner {
  public:
    json_scanner(std::string_view text, std::size_t max_depth)
        : p_(text.data()), end_(text.data() + text.size()), max_depth_(max_depth) {}

  protected:
    bool at(char c) const { return p_ != end_ && *p_ == c; }
    bool at_digit() const { return p_ != end_ && *p_ >= '0' && *p_ <= '9'; }
    static unsigned char byte(char c) { return static_cast<unsigned char>(c); }

    void skip_whitespace() {
        while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }

    // At '{'. For each member, checks the key is new and calls member(key, key_text) with p_ at the value, which
    // must consume it. key is decoded; it stays valid while the scanner lives.
    template <typename Member>
    bool object(Member&& member) {
        if (depth_ >= max_depth_) return false;
        ++depth_;
        ++p_;
        const std::size_t base = keys_.size();  // this object's keys are keys_[base..] until it grows large
        text_set many;
        skip_whitespace();
        if (at('}')) {
            ++p_;
            --depth_;
            return true;
        }
        while (true) {
            const char* key_begin = p_;
            std::string_view key;
            if (!at('"') || !object_key(key) || !insert_key(base, many, key)) return false;
            const std::string_view key_text(key_begin, static_cast<std::size_t>(p_ - key_begin));
            skip_whitespace();
            if (!at(':')) return false;
            ++p_;
            skip_whitespace();
            if (!member(key, key_text)) return false;
            skip_whitespace();
            if (at(',')) {
                ++p_;
                skip_whitespace();
                continue;
            }
            if (!at('}')) return false;
            ++p_;
            keys_.resize(base);
            --depth_;
            return true;
        }
    }

    bool insert_key(std::size_t base, text_set& many, std::string_view key) {
        if (!many.empty()) return many.insert(key).second;
        for (std::size_t i = base; i < keys_.size(); ++i) {
            if (same_text(keys_[i], key)) return false;
        }
        keys_.push_back(key);
        if (keys_.size() - base > linear_search_limit) {
            many.insert(keys_.begin() + static_cast<std::ptrdiff_t>(base), keys_.end());
            keys_.resize(base);
        }
        return true;
    }

    // A key as decoded text: a view of the input when it holds no escape (the usual case), else a decoded copy.
    bool object_key(std::string_view& key) { return string_value(key, decoded_keys_); }

    // At '"'. A string as decoded text: a view of the input when it holds no escape, else a copy decoded into
    // `decoded` (a deque: earlier copies do not move), valid while `decoded` lives.
    bool string_value(std::string_view& text, std::deque<std::string>& decoded) {
        const char* begin = p_;
        bool escaped = false;
        if (!string(nullptr, &escaped)) return false;
        if (!escaped) {
            text = std::string_view(begin + 1, static_cast<std::size_t>(p_ - begin - 2));
            return true;
        }
        const char* end = p_;
        p_ = begin;
        auto& copy = decoded.emplace_back();
        string(&copy, &escaped);
        p_ = end;
        text = copy;
        return true;
    }

    bool array() {
        if (depth_ >= max_depth_) return false;
        ++depth_;
        ++p_;
        skip_whitespace();
        if (at(']')) {
            ++p_;
            --depth_;
            return true;
        }
        while (true) {
            if (!value()) return false;
            skip_whitespace();
            if (at(',')) {
                ++p_;
                skip_whitespace();
                continue;
            }
            if (!at(']')) return false;
            ++p_;
            --depth_;
            return true;
        }
    }

    bool value() {
        if (p_ == end_) return false;
        switch (*p_) {
            case '{': return object([this](std::string_view, std::string_view) { return value(); });
            case '[': return array();
            case '"': return string(nullptr);
            case 't': return literal("true");
            case 'f': return literal("false");
            case 'n': return literal("null");
            default: return number(nullptr);
        }
    }

    bool literal(std::string_view word) {
        if (static_cast<std::size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0) {
            return false;
        }
        p_ += word.size();
        return true;
    }

    // Stores the value in *out when out is not null, with the type nlohmann's parser gives it.
    bool number(json* out) {
        const char* begin = p_;
        if (at('-')) ++p_;
        if (at('0')) {
            ++p_;
        } else if (at_digit()) {
            while (at_digit()) ++p_;
        } else {
            return false;
        }
        bool integer = true;
        if (at('.')) {
            integer = false;
            ++p_;
            if (!at_digit()) return false;
            while (at_digit()) ++p_;
        }
        if (at('e') || at('E')) {
            integer = false;
            ++p_;
            if (at('+') || at('-')) ++p_;
            if (!at_digit()) return false;
            while (at_digit()) ++p_;
        }
        // Up to 18 characters an integer fits int64, and nothing can fail. Anything else goes through nlohmann's own
        // conversion, which rejects a value overflowing to infinity, as parse_strict does.
        if (integer && p_ - begin <= 18 && out == nullptr) return true;
        json parsed = json::parse(begin, p_, nullptr, false);
        if (parsed.is_discarded()) return false;
        if (out != nullptr) *out = std::move(parsed);
        return true;
    }

    // At '"'. Appends the decoded text to *out when out is not null. Plain runs are skipped in a tight loop; UTF-8
    // is validated only where a byte >= 0x80 appears.
    bool string(std::string* out, bool* escaped = nullptr) {
        ++p_;
        while (true) {
            const char* run = p_;
            skip_plain();
            if (out != nullptr) out->append(run, p_);
            if (p_ == end_) return false;
            const unsigned char c = byte(*p_);
            if (c == '"') {
                ++p_;
                return true;
            }
            if (c == '\\') {
                if (escaped != nullptr) *escaped = true;
                if (!escape(out)) return false;
            } else if (c >= 0x80) {
                const char* sequence = p_;
                if (!utf8_sequence()) return false;
                if (out != nullptr) out->append(sequence, p_);
            } else {
                return false;  // a control character must be escaped
            }
        }
    }

    // Advances over plain string bytes (no quote, backslash, control or non-ASCII byte). Token secrets are most of a
    // cache: sixteen bytes are tested at once with wasm SIMD (the wasm build), eight with scalar 64-bit arithmetic
    // otherwise, while none of them stops the run.
    void skip_plain() {
#if defined(__wasm_simd128__)
        const v128_t space = wasm_i8x16_splat(0x20), quote = wasm_i8x16_splat('"'), backslash = wasm_i8x16_splat('\\');
        while (end_ - p_ >= 16) {
            const v128_t bytes = wasm_v128_load(p_);
            // A signed compare: bytes >= 0x80 are negative, so one test finds control characters and non-ASCII.
            const v128_t stops = wasm_v128_or(wasm_i8x16_lt(bytes, space),
                                              wasm_v128_or(wasm_i8x16_eq(bytes, quote), wasm_i8x16_eq(bytes, backslash)));
            if (wasm_v128_any_true(stops)) {
                p_ += __builtin_ctz(static_cast<unsigned>(wasm_i8x16_bitmask(stops)));
                return;
            }
            p_ += 16;
        }
#else
        constexpr std::uint64_t ones = 0x0101010101010101u, high_bits = 0x8080808080808080u;
        const auto has_zero_byte = [&](std::uint64_t v) { return (v - ones) & ~v & high_bits; };
        while (end_ - p_ >= 8) {
            std::uint64_t word = 0;
            std::memcpy(&word, p_, 8);
            const std::uint64_t stops = (word & high_bits) | ((word - 0x20 * ones) & ~word & high_bits) |
                                        has_zero_byte(word ^ ('"' * ones)) | has_zero_byte(word ^ ('\\' * ones));
            if (stops != 0) break;
            p_ += 8;
        }
#endif
        while (p_ != end_ && !string_stops[byte(*p_)]) ++p_;
    }

    // RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
    bool utf8_sequence() {
        const unsigned char lead = byte(*p_);
        int continuation = 0;
        unsigned char low = 0x80, high = 0xBF;  // the range of the first continuation byte
        if (lead >= 0xC2 && lead <= 0xDF) {
            continuation = 1;
        } else if (lead == 0xE0) {
            continuation = 2, low = 0xA0;
        } else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
            continuation = 2;
        } else if (lead == 0xED) {
            continuation = 2, high = 0x9F;
        } else if (lead == 0xF0) {
            continuation = 3, low = 0x90;
        } else if (lead >= 0xF1 && lead <= 0xF3) {
            continuation = 3;
        } else if (lead == 0xF4) {
            continuation = 3, high = 0x8F;
        } else {
            return false;
        }
        if (end_ - p_ <= continuation) return false;
        ++p_;
        for (int i = 0; i < continuation; ++i, ++p_) {
            if (byte(*p_) < low || byte(*p_) > high) return false;
            low = 0x80, high = 0xBF;
        }
        return true;
    }

    // At '\\'.
    bool escape(std::string* out) {
        ++p_;
        if (p_ == end_) return false;
        char plain = 0;
        switch (*p_++) {
            case '"': plain = '"'; break;
            case '\\': plain = '\\'; break;
            case '/': plain = '/'; break;
            case 'b': plain = '\b'; break;
            case 'f': plain = '\f'; break;
            case 'n': plain = '\n'; break;
            case 'r': plain = '\r'; break;
            case 't': plain = '\t'; break;
            case 'u': return unicode_escape(out);
            default: return false;
        }
        if (out != nullptr) *out += plain;
        return true;
    }

    // After "\u". A high surrogate must be followed by an escaped low one; a lone surrogate is rejected, as nlohmann
    // rejects it.
    bool unicode_escape(std::string* out) {
        std::uint32_t code_point = 0;
        if (!hex4(code_point)) return false;
        if (code_point >= 0xDC00 && code_point <= 0xDFFF) return false;
        if (code_point >= 0xD800 && code_point <= 0xDBFF) {
            std::uint32_t low = 0;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
        }
        if (out != nullptr) append_utf8(*out, code_point);
        return true;
    }

    bool hex4(std::uint32_t& value) {
        if (end_ - p_ < 4) return false;
        for (int i = 0; i < 4; ++i) {
            const char c = *p_++;
            std::uint32_t digit = 0;
            if (c >= '0' && c <= '9') {
                digit = static_cast<std::uint32_t>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                digit = static_cast<std::uint32_t>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                digit = static_cast<std::uint32_t>(c - 'A' + 10);
            } else {
                return false;
            }
            value = value * 16 + digit;
        }
        return true;
    }

    const char* p_;
    const char* end_;
    std::size_t max_depth_;
    std::size_t depth_ = 0;
    std::vector<std::string_view> keys_;    // the keys of the open objects, innermost last
    std::deque<std::string> decoded_keys_;  // keys that held escapes, decoded
};

}  // namespace msalcache::detail
