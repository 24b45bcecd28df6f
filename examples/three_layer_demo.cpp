// A three-layer SOP agent session recorded by hand: CLI → supervisor → micro agents → tools and
// LLM calls. Prints where the session file went and its totals.
#include <sop_telemetry/telemetry.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

using namespace sop_telemetry;

namespace {

void pause_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

void micro_agent(TelemetryCollector& collector, const char* name, const char* tool, int steps) {
    SpanScope agent(collector, SpanKind::agent, name, "micro");
    for (int step = 1; step <= steps; ++step) {
        SpanScope span(collector, SpanKind::step, "step " + std::to_string(step), "action");
        LlmCallInfo call;
        call.model = "gpt-4o-mini";
        call.tokens = {.prompt_tokens = 900 + 100 * step, .completion_tokens = 120,
                       .cache_read_tokens = 512};
        call.duration = 0.004;
        pause_ms(4);
        collector.record_llm_call(call);
        pause_ms(2);
        collector.record_tool_usage(tool, 0.002);
    }
}

}  // namespace

int main() {
    TelemetryManager& manager = TelemetryManager::get_instance();
    manager.initialize();
    TelemetryCollector collector = manager.get_collector();

    {
        SpanScope cli(collector, SpanKind::other, "sop-agents run", "cli");
        TaskScope task(collector, "repo-analysis-1", "分析这个代码仓库的架构", "repo_analysis");
        SpanScope supervisor(collector, SpanKind::agent, "RepoAnalysisSupervisorAgent", "supervisor");
        {
            SpanScope plan(collector, SpanKind::step, "planning", "planning");
            collector.record_llm_call("gpt-4o", 2400, 380, 0.006);
            pause_ms(6);
        }
        micro_agent(collector, "search_agent", "file_search", 2);
        micro_agent(collector, "reader_agent", "file_reader", 3);
        collector.record_llm_call("gpt-4o", 3100, 650, 0.005);
    }
    collector.record_llm_call("my-local-model", 40, 10, 0.001);  // outside any task, unpriced

    if (!manager.flush_data()) std::fprintf(stderr, "could not write the session file\n");
    const auto session = manager.get_session_data();
    if (!session) return 1;
    const TokenUsage& total = session->total_tokens;
    std::printf("session   %s\n", session->session_id.c_str());
    std::printf("file      %s/%s.json\n", manager.get_storage_stats().storage_path.c_str(),
                session->session_id.c_str());
    std::printf("tasks     %zu (%s: %s, %.3f s)\n", session->tasks.size(),
                session->tasks[0].task_id.c_str(), session->tasks[0].description.c_str(),
                session->tasks[0].duration);
    std::printf("tokens    %lld prompt + %lld completion = %lld\n",
                static_cast<long long>(total.prompt_tokens),
                static_cast<long long>(total.completion_tokens),
                static_cast<long long>(total.total_tokens));
    for (const auto& [model, usage] : total.model_breakdown) {
        if (usage.cost_estimate)
            std::printf("  %-16s %6lld tokens  $%.6f\n", model.c_str(),
                        static_cast<long long>(usage.total_tokens), *usage.cost_estimate);
        else
            std::printf("  %-16s %6lld tokens  unpriced\n", model.c_str(),
                        static_cast<long long>(usage.total_tokens));
    }
    std::string unpriced;
    for (const auto& model : total.unpriced_models) unpriced += " " + model;
    std::printf("cost      $%.6f (price table %s)%s%s\n", total.cost_estimate.value_or(0),
                session->price_table_version.c_str(), unpriced.empty() ? "" : "; unpriced:",
                unpriced.c_str());
    for (const auto& agent : session->tasks[0].agents)
        std::printf("  agent %-28s %-10s %.3f s\n", agent.agent_name.c_str(), agent.agent_type.c_str(),
                    agent.duration);
    for (const auto& tool : session->tasks[0].tools)
        std::printf("  tool  %-28s %-10s %.3f s\n", tool.tool_name.c_str(),
                    tool.success ? "ok" : "failed", tool.duration);
    std::printf("spans     %zu (the tree, by parent id, is in the file's \"spans\")\n",
                session->spans.size());
    return 0;
}
