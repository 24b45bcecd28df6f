// A minimal, fast JSON writer appending to a std::string. Strings are escaped and any invalid
// UTF-8 is replaced by U+FFFD, so the output is always valid JSON whatever the host passed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sop_telemetry::detail {

class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : out_(out) {}

    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    JsonWriter& key(std::string_view name);

    JsonWriter& value(std::string_view text);
    JsonWriter& value(const char* text) { return value(std::string_view(text)); }
    JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
    JsonWriter& value(std::int64_t number);
    JsonWriter& value(std::uint64_t number);
    JsonWriter& value(int number) { return value(static_cast<std::int64_t>(number)); }
    JsonWriter& value(double number);
    JsonWriter& value(bool flag);
    JsonWriter& null();
    /// A span id as a string of 16 lower-case hex digits (span_id_hex, without a temporary).
    JsonWriter& hex_id(std::uint64_t id);
    template <typename T>
    JsonWriter& value(const std::optional<T>& maybe) {
        return maybe ? value(*maybe) : null();
    }

    /// key + value in one call.
    template <typename T>
    JsonWriter& field(std::string_view name, const T& v) {
        key(name);
        return value(v);
    }

private:
    void separate() {
        if (needs_comma_) out_ += ',';
        needs_comma_ = true;
    }

    std::string& out_;
    bool needs_comma_ = false;
};

/// Appends `text` to `out` as a JSON string body (no quotes), escaping and repairing UTF-8.
void append_json_escaped(std::string& out, std::string_view text);

/// 16 lower-case hex digits.
std::string span_id_hex(std::uint64_t id);
/// Parses span_id_hex's output; 0 when invalid.
std::uint64_t span_id_from_hex(std::string_view text) noexcept;

/// "2026-11-24T19:21:42.123456Z"
std::string iso8601_utc(std::int64_t unix_us);
/// Parses iso8601_utc's output (and second or millisecond precision); unset when invalid.
std::optional<std::int64_t> parse_iso8601_utc(std::string_view text) noexcept;

}  // namespace sop_telemetry::detail
