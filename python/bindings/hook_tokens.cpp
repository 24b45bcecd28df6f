// The tokens of a model's reply, read for the LLM-call hook (bind_hooks.cpp): smolagents'
// ChatMessage.token_usage, and the cache and reasoning tokens of the provider's raw usage.
#include "hook_state.hpp"

#include <cmath>

namespace sop_telemetry::python {

std::int64_t token_count(PyObject* value) {
    if (value == nullptr || value == Py_None) return 0;
    if (PyLong_Check(value) && !PyBool_Check(value)) {
        int overflow = 0;
        const long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow == 0 && !(number == -1 && PyErr_Occurred())) return number;
        PyErr_Clear();
    } else if (PyFloat_Check(value)) {
        const double number = PyFloat_AS_DOUBLE(value);
        if (std::trunc(number) == number && std::fabs(number) < 9.0e18) return static_cast<std::int64_t>(number);
    }
    get_error_handler().record("llm_call", "a token count that is not a whole number within 64 bits counts 0");
    return 0;
}

namespace {

std::int64_t int_field(PyObject* source, PyObject* first, PyObject* second = nullptr) {
    Ref level(member(source, first));
    if (second == nullptr) return token_count(level.get());
    Ref value(member(level.get(), second));
    return token_count(value.get());
}

}  // namespace

TokenCounts tokens_of(PyObject* message) noexcept {
    const Names& n = names();
    TokenCounts tokens;
    try {
        Ref usage(member(message, n.token_usage));
        tokens.prompt_tokens = int_field(usage.get(), n.input_tokens);
        tokens.completion_tokens = int_field(usage.get(), n.output_tokens);
    } catch (...) {
        record_failure("llm_call");
    }
    // Cache and reasoning tokens, when the provider's raw response gives them (OpenAI-style
    // usage.*_details, Anthropic-style usage.cache_*_input_tokens).
    try {
        Ref raw(member(message, n.raw));
        Ref raw_usage(member(raw.get(), n.usage));
        if (raw_usage) {
            tokens.cache_read_tokens = int_field(raw_usage.get(), n.prompt_tokens_details, n.cached_tokens);
            if (tokens.cache_read_tokens == 0) tokens.cache_read_tokens = int_field(raw_usage.get(), n.cache_read_input_tokens);
            tokens.cache_write_tokens = int_field(raw_usage.get(), n.cache_creation_input_tokens);
            tokens.reasoning_tokens = int_field(raw_usage.get(), n.completion_tokens_details, n.reasoning_tokens);
            if (tokens.cache_read_tokens == 0 && tokens.cache_write_tokens == 0) {
                // Bedrock Converse (smolagents' AmazonBedrockModel): camelCase, and its inputTokens
                // leave the cached tokens out; prompt_tokens counts every input token.
                tokens.cache_read_tokens = int_field(raw_usage.get(), n.cacheReadInputTokens);
                tokens.cache_write_tokens = int_field(raw_usage.get(), n.cacheWriteInputTokens);
                tokens.prompt_tokens = saturating_add(tokens.prompt_tokens,
                                                      saturating_add(tokens.cache_read_tokens, tokens.cache_write_tokens));
            }
        }
    } catch (...) {
        record_failure("llm_call");
    }
    return tokens;
}

}  // namespace sop_telemetry::python
