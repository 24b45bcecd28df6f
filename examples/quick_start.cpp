// The README's C++ quick start, compiled so that it stays true.
#include <sop_telemetry/telemetry.hpp>

#include <cstdio>

using namespace sop_telemetry;

int main() {
    TelemetryManager& manager = TelemetryManager::get_instance();  // initialises on first use
    TelemetryCollector collector = manager.get_collector();

    collector.start_task("task_123", "分析代码仓库", /*sop_category=*/"repo_analysis");
    {
        SpanScope agent(collector, SpanKind::agent, "RepoAnalysisAgent", "supervisor");
        collector.record_llm_call("gpt-4o", /*prompt*/ 100, /*completion*/ 50, /*seconds*/ 2.5);
        LlmCallInfo call{.model = "claude-sonnet-4-5",
                         .tokens = {.prompt_tokens = 1000, .completion_tokens = 200,
                                    .cache_read_tokens = 600},
                         .duration = 1.4};
        collector.record_llm_call(call);
        collector.record_tool_usage("file_reader", 0.5);
    }
    collector.end_task("task_123", TaskStatus::completed);

    auto session = manager.get_session_data();  // folded from the events now
    std::printf("%lld tokens\n", (long long)session->total_tokens.total_tokens);
}  // at exit the session file is written to ~/.cache/ept/sop_agents/<session_id>.json
