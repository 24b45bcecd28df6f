#include <sop_telemetry/error_handler.hpp>
#include <sop_telemetry/pricing.hpp>
#include <sop_telemetry/types.hpp>

#include "detail/session_codec.hpp"

#include <array>

namespace sop_telemetry {

namespace {

constexpr std::array<const char*, 6> kStatusNames{"running", "completed", "failed",
                                                  "cancelled", "timeout", "max_steps"};
constexpr std::array<const char*, 6> kKindNames{"task", "agent", "step", "llm", "tool", "other"};

template <typename Enum, std::size_t N>
std::optional<Enum> from_names(const std::array<const char*, N>& names, std::string_view text) {
    for (std::size_t i = 0; i < N; ++i)
        if (text == names[i]) return static_cast<Enum>(i);
    return std::nullopt;
}

}  // namespace

const char* to_string(TaskStatus status) noexcept {
    const auto index = static_cast<std::size_t>(status);
    return index < kStatusNames.size() ? kStatusNames[index] : "unknown";
}

const char* to_string(SpanKind kind) noexcept {
    const auto index = static_cast<std::size_t>(kind);
    return index < kKindNames.size() ? kKindNames[index] : "other";
}

std::optional<TaskStatus> task_status_from_string(std::string_view text) noexcept {
    return from_names<TaskStatus>(kStatusNames, text);
}

std::optional<SpanKind> span_kind_from_string(std::string_view text) noexcept {
    return from_names<SpanKind>(kKindNames, text);
}

TokenCounts& TokenCounts::operator+=(const TokenCounts& other) noexcept {
    prompt_tokens = saturating_add(prompt_tokens, other.prompt_tokens);
    completion_tokens = saturating_add(completion_tokens, other.completion_tokens);
    cache_read_tokens = saturating_add(cache_read_tokens, other.cache_read_tokens);
    cache_write_tokens = saturating_add(cache_write_tokens, other.cache_write_tokens);
    reasoning_tokens = saturating_add(reasoning_tokens, other.reasoning_tokens);
    return *this;
}

double Span::duration() const noexcept {
    if (!end_time) return 0;
    return std::max(0.0, std::chrono::duration<double>(*end_time - start_time).count());
}

std::string TelemetrySession::to_json() const noexcept {
    try {
        return detail::session_to_json(*this);
    } catch (const std::exception& error) {
        get_error_handler().record("to_json", error.what());
        return {};
    }
}

std::optional<TelemetrySession> TelemetrySession::from_json(std::string_view json,
                                                            std::string* error) noexcept {
    try {
        std::string message;
        const simdjson::padded_string padded(json);
        auto session = detail::session_from_json(padded, PriceTable::built_in(), message);
        if (!session && error) *error = message;
        return session;
    } catch (const std::exception& exception) {
        if (error) *error = exception.what();
        return std::nullopt;
    }
}

}  // namespace sop_telemetry
