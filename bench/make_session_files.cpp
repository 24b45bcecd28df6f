// Writes N session files of about E events each into a directory, for the CLI benchmark:
// one session is recorded with the engine, then copied under N distinct session ids.
// Usage: make_session_files DIR N [E]
#include <sop_telemetry/telemetry.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using namespace sop_telemetry;

namespace {

std::string record_one(const std::string& directory, int events) {
    Config config;
    config.storage_dir = directory;
    config.code_metrics = false;
    config.auto_cleanup = false;
    std::string id;
    {
        TelemetryManager manager;
        manager.initialize(config);
        id = manager.session_id();
        TelemetryCollector c = manager.get_collector();
        c.start_task("bench-task", "分析这个代码仓库的架构", "repo_analysis");
        const auto agent = c.begin_span(SpanKind::agent, "supervisor", 0, "supervisor");
        for (int i = 0; i < (events - 4) / 4; ++i) {  // 4 events per step
            const auto step = c.begin_span(SpanKind::step, "step " + std::to_string(i + 1), agent, "action");
            c.record_llm_call({"gpt-4o-mini", {1000 + i * 10, 100, 0, 0, 0}, 0.4, {}, step});
            c.record_tool_usage(i % 3 ? "file_reader" : "text_grep", 0.01 * (i % 7 + 1), i % 11 != 0,
                                i % 11 ? "" : "FileNotFoundError: missing.txt", step);
            c.end_span(step);
        }
        c.end_span(agent);
        c.end_task("bench-task");
    }
    return id;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s DIR N [EVENTS]\n", argv[0]);
        return 2;
    }
    const std::string directory = argv[1];
    const int count = std::atoi(argv[2]);
    const int events = argc > 3 ? std::atoi(argv[3]) : 500;
    std::filesystem::create_directories(directory);
    const std::string id = record_one(directory, events);
    const std::string path = directory + "/" + id + ".json";
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    for (int n = 1; n < count; ++n) {
        char copy_id[64];
        std::snprintf(copy_id, sizeof copy_id, "%s-%05d", id.c_str(), n);
        std::string copy = text;
        for (std::size_t at = copy.find(id); at != std::string::npos; at = copy.find(id, at + 1))
            copy.replace(at, id.size(), copy_id);
        std::ofstream(directory + "/" + copy_id + ".json") << copy;
    }
    std::printf("%d sessions of %d events (%zu bytes each) in %s\n", count, events, text.size(), directory.c_str());
    return 0;
}
