#include "test_support.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <utility>
#include <vector>

namespace sop_telemetry {
namespace {

const PriceTable& table() { return PriceTable::built_in(); }

TEST(Pricing, BuiltInTableCoversTheMajorProviders) {
    EXPECT_GE(table().size(), 100u);
    EXPECT_FALSE(table().version().empty());
    for (const char* model : {"gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-pro",
                              "deepseek-chat", "mistral-large-latest", "qwen-max"})
        EXPECT_TRUE(table().lookup(model).has_value()) << model;
    std::set<std::string> providers;
    // Every provider the design promises is present.
    for (const char* model : {"gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro", "deepseek-chat",
                              "mistral-large-latest", "qwen-max"})
        providers.insert(table().lookup(model)->provider);
    EXPECT_EQ(providers, (std::set<std::string>{"openai", "anthropic", "gcp.gemini", "deepseek",
                                                "mistral_ai", "qwen"}));
}

TEST(Pricing, NamesMatchExactlyThenByPrefixThenWithoutVersionSuffix) {
    const auto base = table().lookup("gpt-4o").value();
    for (const char* alias : {"GPT-4o", "openai/gpt-4o", "azure/gpt-4o", "gpt-4o-2099-01-01"}) {
        const auto found = table().lookup(alias);
        ASSERT_TRUE(found.has_value()) << alias;
        EXPECT_EQ(found->input, base.input) << alias;
    }
    for (const char* profile : {"bedrock/us.anthropic.claude-sonnet-4-5-20990101-v1:0",
                                "global.anthropic.claude-sonnet-4-5-20990101-v1:0",
                                "apac.anthropic.claude-sonnet-4-5-20990101-v1:0"})
        EXPECT_TRUE(table().lookup(profile).has_value()) << profile;
    EXPECT_TRUE(table().lookup("claude-sonnet-4-5@20990101").has_value());
    EXPECT_FALSE(table().lookup("gpt-4o-turbo-ultra").has_value());
}

TEST(Pricing, CachedAndReasoningTokensArePricedAsBilled) {
    PriceTable prices;
    prices.set_price("m", {"test", 2.0, 10.0, 0.5, 2.5, 20.0});
    // 1000 input of which 600 cache read and 100 cache write; 300 output of which 50 reasoning.
    const double expected = (300 * 2.0 + 600 * 0.5 + 100 * 2.5 + 250 * 10.0 + 50 * 20.0) / 1e6;
    EXPECT_DOUBLE_EQ(prices.cost("m", {1000, 300, 600, 100, 50}).value(), expected);
    // Without separate cache / reasoning prices they fall back to input / output.
    prices.set_price("plain", {"test", 2.0, 10.0, {}, {}, {}});
    EXPECT_DOUBLE_EQ(prices.cost("plain", {1000, 300, 600, 100, 50}).value(),
                     (1000 * 2.0 + 300 * 10.0) / 1e6);
}

TEST(Pricing, UnknownModelIsUnpricedNeverZero) {
    EXPECT_FALSE(table().cost("my-private-llm", {100, 100, 0, 0, 0}).has_value());
    testing::TempDir dir;
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    manager->get_collector().record_llm_call("my-private-llm", 100, 100, 0.1);
    const TelemetrySession s = manager->get_session_data().value();
    EXPECT_FALSE(s.total_tokens.cost_estimate.has_value());
    EXPECT_EQ(s.total_tokens.unpriced_models, std::vector<std::string>{"my-private-llm"});
    EXPECT_FALSE(s.total_tokens.model_breakdown.at("my-private-llm").cost_estimate.has_value());
    EXPECT_NE(s.to_json().find("\"cost_estimate\":null"), std::string::npos);
}

TEST(Pricing, MixedSessionKeepsThePricedPartAndNamesTheUnpriced) {
    testing::TempDir dir;
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    TelemetryCollector collector = manager->get_collector();
    collector.record_llm_call("gpt-4o", 1'000'000, 0, 0);
    collector.record_llm_call("mystery", 10, 10, 0);
    const TelemetrySession s = manager->get_session_data().value();
    EXPECT_DOUBLE_EQ(s.total_tokens.cost_estimate.value(), table().lookup("gpt-4o")->input);
    EXPECT_EQ(s.total_tokens.unpriced_models, std::vector<std::string>{"mystery"});
}

TEST(Pricing, UserPriceFileOverridesAndExtendsAndIsVersioned) {
    testing::TempDir dir;
    testing::write_text(dir / "prices.json", R"({"version":"team-2026-11",
        "models":{"gpt-4o":{"input":1.0,"output":1.0},"my-private-llm":{"input":3.0,"output":4.0}}})");
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    TelemetryCollector collector = manager->get_collector();
    collector.record_llm_call("gpt-4o", 1'000'000, 1'000'000, 0);
    collector.record_llm_call("my-private-llm", 1'000'000, 0, 0);
    const TelemetrySession s = manager->get_session_data().value();
    EXPECT_DOUBLE_EQ(s.total_tokens.model_breakdown.at("gpt-4o").cost_estimate.value(), 2.0);
    EXPECT_DOUBLE_EQ(s.total_tokens.model_breakdown.at("my-private-llm").cost_estimate.value(), 3.0);
    EXPECT_EQ(s.price_table_version, table().version() + "+team-2026-11");
}

TEST(Pricing, InvalidPriceFilesAreRejectedWithAReason) {
    std::string error;
    EXPECT_FALSE(PriceTable::parse("nope", &error));
    EXPECT_FALSE(PriceTable::parse(R"({"models":{"m":{"input":-1,"output":1}}})", &error));
    EXPECT_NE(error.find("\"m\""), std::string::npos);
    EXPECT_FALSE(PriceTable::parse(R"({"version":"x"})", &error));
    // Optional prices too: a negative one made a call's cost negative, a string was ignored.
    EXPECT_FALSE(PriceTable::parse(R"({"models":{"m":{"input":1,"output":1,"cache_read":-5}}})", &error));
    EXPECT_NE(error.find("cache_read"), std::string::npos);
    EXPECT_FALSE(PriceTable::parse(R"({"models":{"m":{"input":1,"output":1,"reasoning":"cheap"}}})", &error));
    EXPECT_TRUE(PriceTable::parse(R"({"models":{"m":{"input":1,"output":1,"cache_write":1.25}}})", &error));
    testing::TempDir dir;
    testing::write_text(dir / "prices.json", "{broken");
    const auto errors = testing::error_count("pricing");
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    EXPECT_EQ(testing::error_count("pricing"), errors + 1);
    manager->get_collector().record_llm_call("gpt-4o", 10, 10, 0);
    EXPECT_TRUE(manager->get_session_data()->total_tokens.cost_estimate.has_value());
}

std::string last_pricing_message() {
    for (const ErrorRecord& record : get_error_handler().get_error_summary())
        if (record.operation == "pricing" && !record.recent_messages.empty()) return record.recent_messages.back();
    return {};
}

TEST(Pricing, APriceFileThatIsNoRegularFileOrTooLargeIsRefusedWithoutWaiting) {
    // A FIFO kept the manager's start waiting for a writer for ever; /dev/zero filled memory.
    testing::TempDir dir;
    ASSERT_EQ(::mkfifo((dir / "fifo.json").c_str(), 0600), 0);
    testing::write_text(dir / "huge.json", std::string((std::size_t{16} << 20) + 1, ' '));
    const std::vector<std::pair<std::string, std::string>> cases = {
        {(dir / "fifo.json").string(), "not a regular file"},
        {"/dev/zero", "not a regular file"},
        {dir.str(), "not a regular file"},
        {(dir / "huge.json").string(), "larger than 16 MiB"}};
    for (const auto& [path, reason] : cases) {
        const testing::ChildOutcome outcome = testing::run_in_child([&, path = path, reason = reason] {
            Config config = testing::test_config(dir.str());
            config.price_file = path;
            const auto errors = testing::error_count("pricing");
            auto manager = testing::make_manager(config);
            return testing::error_count("pricing") == errors + 1 &&
                   last_pricing_message() == "ignored price file " + path + ": " + reason;
        });
        EXPECT_EQ(outcome, testing::ChildOutcome::passed) << path;
    }
}

}  // namespace
}  // namespace sop_telemetry
