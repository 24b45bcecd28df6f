#include <sop_telemetry/data_store.hpp>
#include <sop_telemetry/error_handler.hpp>
#include <sop_telemetry/pricing.hpp>

#include "detail/file_io.hpp"

#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <cctype>

namespace sop_telemetry {

extern "C" const char sop_telemetry_built_in_prices[];  // generated from data/prices.json

namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

/// An optional price: unset when absent; false when present but not a number >= 0.
bool optional_price(simdjson::dom::object& model, const char* key, std::optional<double>& price) {
    simdjson::dom::element field;
    if (model[key].get(field) != simdjson::SUCCESS) return true;  // absent
    double value = 0;
    if (field.get(value) != simdjson::SUCCESS || !(value >= 0)) return false;
    price = value;
    return true;
}

bool all_digits(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(),
                                        [](unsigned char c) { return std::isdigit(c); });
}

/// `name` without one trailing version or date suffix, or `name` itself when it has none.
/// Suffixes: "-latest", "-v1", "-v1:0", ":0", "-2024-08-06", "-20241022", "@20241022".
std::string_view without_version_suffix(std::string_view name) {
    if (name.ends_with("-latest")) return name.substr(0, name.size() - 7);
    if (auto colon = name.rfind(':'); colon != std::string_view::npos &&
                                      all_digits(name.substr(colon + 1)))
        return name.substr(0, colon);
    if (auto dash = name.rfind("-v"); dash != std::string_view::npos &&
                                      all_digits(name.substr(dash + 2)))
        return name.substr(0, dash);
    if (name.size() > 9 && (name[name.size() - 9] == '-' || name[name.size() - 9] == '@') &&
        all_digits(name.substr(name.size() - 8)))
        return name.substr(0, name.size() - 9);
    if (name.size() > 11 && name[name.size() - 11] == '-' && name[name.size() - 6] == '-' &&
        name[name.size() - 3] == '-' && all_digits(name.substr(name.size() - 10, 4)) &&
        all_digits(name.substr(name.size() - 5, 2)) && all_digits(name.substr(name.size() - 2)))
        return name.substr(0, name.size() - 11);
    return name;
}

/// `name` without a Bedrock-style vendor prefix ("anthropic.", "us.anthropic.").
std::string_view without_vendor_prefix(std::string_view name) {
    static constexpr std::string_view kVendors[] = {"anthropic.", "meta.",    "mistral.",
                                                    "amazon.",    "cohere.",  "deepseek.",
                                                    "qwen.",      "openai.",  "google."};
    // Cross-region inference profile: "us.", "eu.", "apac.", "global.", "us-gov." ...
    for (std::string_view region : {"global.", "apac.", "us-gov."})
        if (name.starts_with(region)) name.remove_prefix(region.size());
    if (name.size() > 3 && name[2] == '.') name.remove_prefix(3);
    for (std::string_view vendor : kVendors)
        if (name.starts_with(vendor)) return name.substr(vendor.size());
    return name;
}

/// The names to try for `model`, most specific first.
std::vector<std::string> candidate_names(std::string_view model) {
    const std::string lowered = lower(model);
    std::vector<std::string> names{lowered};
    std::string_view base = lowered;
    if (auto slash = base.rfind('/'); slash != std::string_view::npos) base = base.substr(slash + 1);
    base = without_vendor_prefix(base);
    names.emplace_back(base);
    for (std::string_view shorter = without_version_suffix(base); shorter != base;
         shorter = without_version_suffix(base)) {
        base = shorter;
        names.emplace_back(base);
    }
    return names;
}

}  // namespace

const PriceTable& PriceTable::built_in() noexcept {
    static const PriceTable table = [] {
        std::string error;
        auto parsed = parse(sop_telemetry_built_in_prices, &error);
        if (!parsed) {
            get_error_handler().record("pricing", "built-in price table invalid: " + error);
            return PriceTable{};
        }
        return *parsed;
    }();
    return table;
}

std::optional<PriceTable> PriceTable::parse(std::string_view json, std::string* error) noexcept {
    try {
        simdjson::dom::parser parser;
        simdjson::dom::object root;
        if (auto err = parser.parse(json.data(), json.size(), true).get(root)) {
            if (error) *error = std::string("not a JSON object: ") + simdjson::error_message(err);
            return std::nullopt;
        }
        PriceTable table;
        std::string_view version;
        if (root["version"].get(version) == simdjson::SUCCESS) table.version_ = version;
        simdjson::dom::object models;
        if (root["models"].get(models) != simdjson::SUCCESS) {
            if (error) *error = "no \"models\" object";
            return std::nullopt;
        }
        for (auto [name, value] : models) {
            simdjson::dom::object model;
            ModelPrice price;
            if (value.get(model) != simdjson::SUCCESS ||
                model["input"].get(price.input) != simdjson::SUCCESS ||
                model["output"].get(price.output) != simdjson::SUCCESS || price.input < 0 ||
                price.output < 0) {
                if (error) *error = "model \"" + std::string(name) + "\" needs input and output prices >= 0";
                return std::nullopt;
            }
            std::string_view provider;
            if (model["provider"].get(provider) == simdjson::SUCCESS) price.provider = provider;
            if (!optional_price(model, "cache_read", price.cache_read) ||
                !optional_price(model, "cache_write", price.cache_write) ||
                !optional_price(model, "reasoning", price.reasoning)) {
                if (error) *error = "model \"" + std::string(name) + "\": cache_read, cache_write and reasoning prices must be numbers >= 0";
                return std::nullopt;
            }
            table.models_[lower(name)] = std::move(price);
        }
        return table;
    } catch (const std::exception& e) {
        if (error) *error = e.what();
        return std::nullopt;
    }
}

void PriceTable::merge(const PriceTable& other) noexcept {
    try {
        for (const auto& [name, price] : other.models_) models_[name] = price;
        version_ = version_ + "+" + (other.version_.empty() ? "user" : other.version_);
    } catch (...) {
        get_error_handler().record("pricing", "merge failed");
    }
}

void PriceTable::set_price(std::string_view model, ModelPrice price) noexcept {
    try {
        models_[lower(model)] = std::move(price);
    } catch (...) {
        get_error_handler().record("pricing", "set_price failed");
    }
}

std::optional<ModelPrice> PriceTable::lookup(std::string_view model) const noexcept {
    try {
        for (const std::string& name : candidate_names(model))
            if (auto it = models_.find(name); it != models_.end()) return it->second;
    } catch (...) {
        get_error_handler().record("pricing", "lookup failed");
    }
    return std::nullopt;
}

std::optional<double> PriceTable::cost(std::string_view model,
                                       const TokenCounts& tokens) const noexcept {
    auto price = lookup(model);
    if (!price) return std::nullopt;
    return cost_of(*price, tokens);
}

double cost_of(const ModelPrice& price, const TokenCounts& tokens) noexcept {
    const double cached_read = static_cast<double>(tokens.cache_read_tokens);
    const double cached_write = static_cast<double>(tokens.cache_write_tokens);
    const double uncached =
        std::max(0.0, static_cast<double>(tokens.prompt_tokens) - cached_read - cached_write);
    const double reasoning =
        price.reasoning ? std::min<double>(tokens.reasoning_tokens, tokens.completion_tokens) : 0;
    const double plain_output = static_cast<double>(tokens.completion_tokens) - reasoning;
    const double micro_dollars = uncached * price.input +
                                 cached_read * price.cache_read.value_or(price.input) +
                                 cached_write * price.cache_write.value_or(price.input) +
                                 plain_output * price.output +
                                 reasoning * price.reasoning.value_or(price.output);
    return micro_dollars / 1e6;
}

std::shared_ptr<const PriceTable> PriceTable::for_config(const Config& config) {
    auto table = std::make_shared<PriceTable>(PriceTable::built_in());
    const std::string own =
        config.storage_dir.empty() ? std::string() : config.storage_dir + "/" + std::string(TelemetryDataStore::kPriceFileName);
    for (const std::string& path : {own, config.price_file}) {
        if (path.empty()) continue;
        if (::access(path.c_str(), F_OK) != 0) {
            // The storage directory's own file is optional; a price file named in the config is not.
            if (path == config.price_file) get_error_handler().record("pricing", "price file " + path + " not found");
            continue;
        }
        std::string error;
        constexpr std::size_t kMaxPriceFileBytes = std::size_t{16} << 20;
        auto content = detail::read_file(path, error, kMaxPriceFileBytes);
        auto parsed = content ? PriceTable::parse(*content, &error) : std::nullopt;
        if (!parsed) {
            get_error_handler().record("pricing", "ignored price file " + path + ": " + error);
            continue;
        }
        table->merge(*parsed);
    }
    return table;
}

}  // namespace sop_telemetry
