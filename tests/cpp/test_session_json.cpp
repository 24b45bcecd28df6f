#include "test_support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace sop_telemetry {
namespace {

TelemetrySession recorded_session(TelemetryManager& manager) {
    TelemetryCollector collector = manager.get_collector();
    collector.start_task("t1", "分析代码仓库", "repo_analysis");
    {
        SpanScope agent(collector, SpanKind::agent, "RepoAnalysisAgent", "supervisor");
        LlmCallInfo call;
        call.model = "claude-sonnet-4-5";
        call.tokens = {1000, 200, 600, 100, 0};
        call.duration = 1.5;
        collector.record_llm_call(call);
        collector.record_llm_call("unknown-model-xyz", 5, 5, 0.2);
        collector.record_tool_usage("file_reader", 0.5, false, "file not found: 说明.md");
    }
    collector.end_task("t1", TaskStatus::max_steps);
    collector.record_llm_call("gpt-4o", 1, 1, 0.0);
    return manager.get_session_data().value();
}

TEST(SessionJson, ASessionStillRunningReadsBackWithItsDurationsAsWritten) {
    testing::TempDir dir;
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    TelemetryCollector collector = manager->get_collector();
    collector.start_task("open", "still running when written");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const TelemetrySession live = manager->get_session_data().value();
    ASSERT_FALSE(live.end_time.has_value());
    ASSERT_GE(live.total_duration, 0.05);
    const auto back = TelemetrySession::from_json(live.to_json());
    ASSERT_TRUE(back.has_value());
    EXPECT_NEAR(back->total_duration, live.total_duration, 1e-3);
    ASSERT_EQ(back->tasks.size(), 1u);
    EXPECT_NEAR(back->tasks[0].duration, live.tasks[0].duration, 1e-3);
    collector.end_task("open");
}

TEST(SessionJson, RoundTripKeepsEveryField) {
    testing::TempDir dir;
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    manager->set_python_version("3.11.7");
    const TelemetrySession original = recorded_session(*manager);
    const std::string json = original.to_json();
    std::string error;
    const auto back = TelemetrySession::from_json(json, &error);
    ASSERT_TRUE(back.has_value()) << error;

    EXPECT_EQ(back->session_id, original.session_id);
    EXPECT_EQ(back->start_time, original.start_time);
    EXPECT_EQ(back->environment.python_version, "3.11.7");
    EXPECT_EQ(back->environment.working_directory, original.environment.working_directory);
    EXPECT_EQ(back->environment.environment_variables, original.environment.environment_variables);
    ASSERT_EQ(back->tasks.size(), 1u);
    const TaskExecution& task = back->tasks[0];
    EXPECT_EQ(task.description, "分析代码仓库");
    EXPECT_EQ(task.sop_category.value_or(""), "repo_analysis");
    EXPECT_EQ(task.status, TaskStatus::max_steps);
    EXPECT_EQ(task.end_time, original.tasks[0].end_time);
    ASSERT_EQ(task.llm_calls.size(), 2u);
    EXPECT_EQ(task.llm_calls[0].cache_read_tokens, 600);
    EXPECT_EQ(task.llm_calls[0].cache_write_tokens, 100);
    EXPECT_EQ(task.llm_calls[0].cost_estimate, original.tasks[0].llm_calls[0].cost_estimate);
    EXPECT_FALSE(task.llm_calls[1].cost_estimate.has_value());
    EXPECT_EQ(task.tools[0].error, "file not found: 说明.md");
    EXPECT_FALSE(task.tools[0].success);
    EXPECT_EQ(back->total_tokens.total_tokens, original.total_tokens.total_tokens);
    EXPECT_EQ(back->total_tokens.cost_estimate, original.total_tokens.cost_estimate);
    EXPECT_EQ(back->total_tokens.unpriced_models, original.total_tokens.unpriced_models);
    EXPECT_EQ(back->outside_tasks.llm_calls.size(), 1u);
    EXPECT_EQ(back->spans.size(), original.spans.size());
    EXPECT_EQ(back->price_table_version, original.price_table_version);
    // The span records (the source of truth) are written back byte for byte.
    const std::string again = back->to_json();
    EXPECT_EQ(again.substr(again.find("\"spans\":")), json.substr(json.find("\"spans\":")));
}

TEST(SessionJson, FileHasSchemaVersionAndDocumentedTopLevelKeys) {
    testing::TempDir dir;
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    const std::string json = recorded_session(*manager).to_json();
    for (const char* key : {"\"schema_version\":1", "\"session_id\"", "\"start_time\"",
                            "\"end_time\"", "\"environment\"", "\"tasks\"", "\"total_tokens\"",
                            "\"total_duration\"", "\"spans\"", "\"price_table_version\"",
                            "\"dropped_events\"", "\"incomplete\""})
        EXPECT_NE(json.find(key), std::string::npos) << key;
}

TEST(SessionJson, InvalidInputIsRefusedWithAReason) {
    std::string error;
    EXPECT_FALSE(TelemetrySession::from_json("", &error));
    EXPECT_NE(error.find("not valid JSON"), std::string::npos);
    EXPECT_FALSE(TelemetrySession::from_json("{\"a\":1}", &error));
    EXPECT_NE(error.find("schema_version"), std::string::npos);
    EXPECT_FALSE(TelemetrySession::from_json("{\"schema_version\":99}", &error));
    EXPECT_NE(error.find("unsupported"), std::string::npos);
    EXPECT_FALSE(TelemetrySession::from_json("[1,2,3]", &error));
    EXPECT_FALSE(TelemetrySession::from_json(
        R"({"schema_version":1,"session_id":"x","start_time":"2026-01-01T00:00:00Z","spans":[{"kind":"llm"}]})",
        &error));
    EXPECT_NE(error.find("span_id"), std::string::npos);
    // Times whose nanoseconds overflow 64 bits (after 2262) and negative counts were taken in.
    const auto with_span = [](const std::string& fields, const std::string& header = {}) {
        return R"({"schema_version":1,"session_id":"x","start_time":"2026-01-01T00:00:00Z")" + header +
               R"(,"spans":[{"span_id":"0000100000000001","kind":"llm","name":"m","start_us":1767225600000000,)" +
               fields + "}]}";
    };
    ASSERT_TRUE(TelemetrySession::from_json(with_span(R"("end_us":1767225601000000,"prompt_tokens":5)"), &error))
        << error;
    EXPECT_FALSE(TelemetrySession::from_json(with_span(R"("end_us":9223372036854776)"), &error));
    EXPECT_EQ(error, "invalid span: record with a time out of range");
    EXPECT_FALSE(TelemetrySession::from_json(with_span(R"("end_us":1767225601000000,"prompt_tokens":-5)"), &error));
    EXPECT_EQ(error, "invalid span: record with a negative token count");
    EXPECT_FALSE(TelemetrySession::from_json(with_span(R"("end_us":1767225601000000)", R"(,"end_time":"2300-01-01T00:00:00Z")"), &error));
    EXPECT_NE(error.find("out of range"), std::string::npos);
    EXPECT_FALSE(TelemetrySession::from_json(with_span(R"("end_us":1767225601000000)", R"(,"dropped_events":-1)"), &error));
    EXPECT_NE(error.find("dropped_events"), std::string::npos);
}

}  // namespace
}  // namespace sop_telemetry

namespace sop_telemetry {
namespace {

TEST(SessionJson, StoredCostsAreKeptEvenWhenWrittenAsIntegers) {
    const std::string json = R"({"schema_version":1,"session_id":"s1","start_time":"2026-01-01T00:00:00.000000Z",
        "end_time":"2026-01-01T00:00:10.000000Z","spans":[
        {"span_id":"0000100000000001","kind":"llm","name":"gpt-4o","start_us":1767225600000000,
         "end_us":1767225601000000,"status":"completed","prompt_tokens":10,"completion_tokens":0,"cost":0},
        {"span_id":"0000100000000002","kind":"llm","name":"gpt-4o","start_us":1767225600000000,
         "end_us":1767225601000000,"status":"completed","prompt_tokens":10,"completion_tokens":0,"cost":3}]})";
    const auto session = TelemetrySession::from_json(json);
    ASSERT_TRUE(session.has_value());
    EXPECT_EQ(session->outside_tasks.llm_calls[0].cost_estimate, 0.0);
    EXPECT_EQ(session->outside_tasks.llm_calls[1].cost_estimate, 3.0);
    EXPECT_EQ(session->total_tokens.cost_estimate, 3.0);
    EXPECT_DOUBLE_EQ(session->total_duration, 10.0);
}

}  // namespace
}  // namespace sop_telemetry
