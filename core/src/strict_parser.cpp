#include "strict_parser.hpp"

#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "internal.hpp"

namespace msalcache::detail {
namespace {

bool is_identifier(std::string_view name) {
    if (name.empty()) return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) return false;
    }
    return true;
}

// nlohmann's own DOM parser accepts duplicate keys (the last one wins) and has no depth limit. msal never writes a
// duplicate key, so one means a corrupted or forged value: an entry could hide behind its twin. Hence this builder.
class dom_builder final : public nlohmann::json_sax<json> {
  public:
    explicit dom_builder(std::size_t max_depth) : max_depth_(max_depth) {}

    json& result() { return root_; }
    const std::string& error() const { return error_; }

    bool null() override { return add(nullptr); }
    bool boolean(bool value) override { return add(value); }
    bool number_integer(number_integer_t value) override { return add(value); }
    bool number_unsigned(number_unsigned_t value) override { return add(value); }
    bool number_float(number_float_t value, const string_t& /*text*/) override { return add(value); }
    bool string(string_t& value) override { return add(std::move(value)); }
    bool binary(binary_t& /*value*/) override {
        error_ = "binary value in JSON text";  // the JSON lexer never produces one
        return false;
    }

    bool start_object(std::size_t /*elements*/) override { return open(json::value_t::object); }
    bool start_array(std::size_t /*elements*/) override { return open(json::value_t::array); }
    bool end_object() override { return close(); }
    bool end_array() override { return close(); }

    bool key(string_t& name) override {
        auto& top = frames_.back();
        auto& members = top.value->get_ref<json::object_t&>();
        if (is_duplicate(top, members, name)) {
            const auto where = location(frames_.size() - 1);
            error_ = "duplicate key " + json_literal(name) + (where.empty() ? " at top level" : " in " + where);
            return false;
        }
        members.emplace_back(std::move(name), nullptr);
        pending_ = &members.back().second;
        return true;
    }

    bool parse_error(std::size_t position, const std::string& /*last_token*/,
                     const nlohmann::detail::exception& ex) override {
        error_ = describe_syntax_error(position, ex.what());
        return false;
    }

  private:
    // Objects up to this size are searched linearly for duplicates; larger ones (a section holding thousands of
    // entries) get a hash set, so the check stays linear in the input.
    static constexpr std::size_t linear_search_limit = 16;

    struct frame {
        json* value;
        std::unique_ptr<std::unordered_set<std::string>> keys;
    };

    static bool is_duplicate(frame& top, const json::object_t& members, const std::string& name) {
        if (top.keys) return !top.keys->insert(name).second;
        for (const auto& member : members) {
            if (member.first == name) return true;
        }
        if (members.size() + 1 > linear_search_limit) {
            top.keys = std::make_unique<std::unordered_set<std::string>>();
            top.keys->reserve(members.size() * 2);
            for (const auto& member : members) top.keys->insert(member.first);
            top.keys->insert(name);
        }
        return false;
    }

    // Where the next value goes. The pointer stays valid while the value is open: its parent does not grow until
    // the value is closed.
    json* slot() {
        if (frames_.empty()) return &root_;
        json& parent = *frames_.back().value;
        if (parent.is_array()) {
            auto& elements = parent.get_ref<json::array_t&>();
            elements.emplace_back();
            return &elements.back();
        }
        return pending_;
    }

    template <typename Value>
    bool add(Value&& value) {
        *slot() = std::forward<Value>(value);
        return true;
    }

    bool open(json::value_t type) {
        if (frames_.size() >= max_depth_) {
            const auto where = location(frames_.size());
            error_ = "nesting deeper than max_depth (" + std::to_string(max_depth_) + ")" +
                     (where.empty() ? std::string() : " at " + where);
            return false;
        }
        json* value = slot();
        *value = json(type);
        frames_.push_back(frame{value, nullptr});
        return true;
    }

    bool close() {
        frames_.pop_back();
        return true;
    }

    // The path to the value currently being filled below `levels` open containers, in the style of the schema
    // messages: `AccessToken["<entry key>"].field[2]`.
    std::string location(std::size_t levels) const {
        std::string out;
        for (std::size_t i = 0; i < levels; ++i) {
            const json& container = *frames_[i].value;
            if (container.is_array()) {
                // The innermost open array has not received the element being placed yet.
                const bool innermost = i + 1 == frames_.size();
                out += '[' + std::to_string(innermost ? container.size() : container.size() - 1) + ']';
                continue;
            }
            const std::string& name = container.get_ref<const json::object_t&>().back().first;
            if (i == 0 && is_identifier(name)) {
                out += name;
            } else if (i >= 2 && is_identifier(name)) {
                out += '.' + name;
            } else {
                out += '[' + json_literal(name) + ']';
            }
        }
        return out;
    }

    // nlohmann's message ends with "last read: '<token text>'", which may quote part of a secret: keep only its
    // fixed wording, and name the byte offset (0-based) of the offending byte.
    static std::string describe_syntax_error(std::size_t position, const std::string& what) {
        std::string reason = what;
        if (const auto start = reason.find("syntax error"); start != std::string::npos) reason.erase(0, start);
        if (const auto dash = reason.find(" - "); dash != std::string::npos) reason.erase(0, dash + 3);
        if (const auto quote = reason.find("; last read: '"); quote != std::string::npos) reason.erase(quote);
        const std::size_t offset = position > 0 ? position - 1 : 0;
        const bool bad_utf8 = reason.find("ill-formed UTF-8") != std::string::npos;
        return std::string(bad_utf8 ? "invalid UTF-8" : "invalid JSON") + " at byte " + std::to_string(offset) +
               ": " + reason;
    }

    std::size_t max_depth_;
    json root_;
    json* pending_ = nullptr;
    std::vector<frame> frames_;
    std::string error_;
};

}  // namespace

json parse_strict(std::string_view text, std::size_t max_depth) {
    if (text.empty()) throw cache_error("invalid JSON: empty input");
    dom_builder builder(max_depth);
    bool ok = false;
    try {
        ok = json::sax_parse(text.data(), text.data() + text.size(), &builder);
    } catch (const nlohmann::json::exception& ex) {
        throw cache_error(std::string("invalid JSON: ") + ex.what());
    }
    if (!ok) throw cache_error(builder.error().empty() ? "invalid JSON" : builder.error());
    return std::move(builder.result());
}

}  // namespace msalcache::detail
