// Token prices and cost estimates.
//
// The built-in table is data/prices.json, compiled into the library. Users extend or override
// it with a file of the same format (`<storage_dir>/prices.json`, or Config::price_file).
// Input tokens are the inclusive count; cache-read and cache-write tokens are subsets of it and
// priced at their own rates; reasoning tokens are a subset of the output, priced at the
// reasoning rate where a model has one. A model without a price has no cost — never 0.
#pragma once

#include <sop_telemetry/config.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <sop_telemetry/types.hpp>

namespace sop_telemetry {

/// USD per one million tokens. Unset cache/reasoning prices fall back to input/output.
struct ModelPrice {
    std::string provider;
    double input = 0;
    double output = 0;
    std::optional<double> cache_read;
    std::optional<double> cache_write;
    std::optional<double> reasoning;
};

/// Cost in USD of one call's tokens at `price`.
double cost_of(const ModelPrice& price, const TokenCounts& tokens) noexcept;

class PriceTable {
public:
    /// The table compiled into the library.
    static const PriceTable& built_in() noexcept;

    /// The table a session with `config` prices with: the built-in one, extended by
    /// `<storage_dir>/prices.json` and Config::price_file (a file that cannot be used is a
    /// recorded error, and left out).
    static std::shared_ptr<const PriceTable> for_config(const Config& config);

    /// Parses a price file (format of data/prices.json); unset with `error` filled when invalid.
    static std::optional<PriceTable> parse(std::string_view json, std::string* error = nullptr) noexcept;

    /// Adds or replaces models from `other`; the version becomes "<this>+<other>".
    void merge(const PriceTable& other) noexcept;
    void set_price(std::string_view model, ModelPrice price) noexcept;

    /// The price of `model`: exact name (case-insensitive), then without a provider prefix
    /// (`openai/gpt-4o`, `bedrock/anthropic.claude-…`), then without a date or version suffix
    /// (`-2024-08-06`, `-20241022`, `@20241022`, `-v1:0`, `-latest`).
    std::optional<ModelPrice> lookup(std::string_view model) const noexcept;
    /// Cost in USD of one call's tokens, unset when the model has no price.
    std::optional<double> cost(std::string_view model, const TokenCounts& tokens) const noexcept;

    const std::string& version() const noexcept { return version_; }
    std::size_t size() const noexcept { return models_.size(); }

private:
    std::string version_;
    std::map<std::string, ModelPrice, std::less<>> models_;  // lower-case names
};

}  // namespace sop_telemetry
