#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

namespace sop_telemetry {
namespace {

TEST(Environment, IsFilledAutomatically) {
    const EnvironmentInfo info = collect_environment();
    EXPECT_EQ(info.os_type, "Linux");
    EXPECT_FALSE(info.os_version.empty());
    EXPECT_EQ(info.working_directory, std::filesystem::current_path().string());
    EXPECT_FALSE(info.project_root.empty());
    EXPECT_TRUE(info.user_name.has_value());
    EXPECT_FALSE(info.timezone.empty());
    EXPECT_EQ(info.engine_version, engine_version());
}

TEST(Environment, ProjectRootIsTheNearestGitRoot) {
    testing::TempDir dir;
    std::filesystem::create_directories(dir / "repo/.git");
    std::filesystem::create_directories(dir / "repo/src/deep");
    EXPECT_EQ(find_project_root((dir / "repo/src/deep").string()), (dir / "repo").string());
    EXPECT_EQ(find_project_root((dir.path()).string()), dir.str());  // no git: itself
}

TEST(Environment, SecretNamesAreRecognised) {
    for (const char* name : {"OPENAI_API_KEY", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD",
                             "GOOGLE_APPLICATION_CREDENTIALS", "SOP_AGENTS_AUTH_HEADER", "api_key"})
        EXPECT_TRUE(is_secret_name(name)) << name;
    for (const char* name : {"LANG", "SOP_AGENTS_MODEL", "VIRTUAL_ENV", "TERM"})
        EXPECT_FALSE(is_secret_name(name)) << name;
}

TEST(Environment, SecretsNeverReachAnyWrittenByte) {
    const char* secrets[] = {"sk-live-0123456789abcdefSECRET", "hf_abcdefghijklmnopqrstu",
                             "hunter2-password-value", "zzTOKENzz-credential-42"};
    ::setenv("OPENAI_API_KEY", secrets[0], 1);
    ::setenv("SOP_AGENTS_HF_TOKEN", secrets[1], 1);  // allowed prefix, secret name
    ::setenv("SOP_TELEMETRY_DB_PASSWORD", secrets[2], 1);
    ::setenv("SOP_AGENTS_BASE_URL", "https://user:zzTOKENzz-credential-42@example.test/v1", 1);
    ::setenv("SOP_AGENTS_MODEL", "sk-live-0123456789abcdefSECRET", 1);  // a key pasted by mistake
    ::setenv("SOP_AGENTS_REGION", "eu-west", 1);

    testing::TempDir dir;
    std::string id;
    {
        Config config = testing::test_config(dir.str());
        config.env_allowlist = {"OPENAI_API_KEY"};  // secret names are refused even if allowed
        auto manager = testing::make_manager(config);
        TelemetryCollector collector = manager->get_collector();
        collector.start_task("t", "secret test");
        collector.record_llm_call("gpt-4o", 1, 1, 0);
        manager->flush_data();
        std::this_thread::sleep_for(std::chrono::milliseconds(120));  // a journal tick too
        const auto session = manager->get_session_data().value();
        EXPECT_EQ(session.environment.environment_variables.at("SOP_AGENTS_REGION"), "eu-west");
        EXPECT_EQ(session.environment.environment_variables.at("SOP_AGENTS_BASE_URL"),
                  "https://***@example.test/v1");
        EXPECT_EQ(session.environment.environment_variables.count("OPENAI_API_KEY"), 0u);
        const std::string bytes = testing::all_bytes_below(dir.path());
        ASSERT_NE(bytes.find("\"spans\""), std::string::npos);
        ASSERT_NE(bytes.find("journal_version"), std::string::npos);
        for (const char* secret : secrets) EXPECT_EQ(bytes.find(secret), std::string::npos) << secret;
        manager->shutdown();
    }
    const std::string bytes = testing::all_bytes_below(dir.path());
    for (const char* secret : secrets) EXPECT_EQ(bytes.find(secret), std::string::npos) << secret;
    for (const char* name : {"OPENAI_API_KEY", "SOP_AGENTS_HF_TOKEN", "SOP_TELEMETRY_DB_PASSWORD",
                             "SOP_AGENTS_BASE_URL", "SOP_AGENTS_MODEL", "SOP_AGENTS_REGION"})
        ::unsetenv(name);
}

}  // namespace
}  // namespace sop_telemetry
