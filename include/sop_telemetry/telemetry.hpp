// SOP Agents Telemetry — the C++ engine. Include this one header.
//
//   auto& manager = sop_telemetry::TelemetryManager::get_instance();
//   auto collector = manager.get_collector();
//   collector.start_task("t1", "分析代码仓库");
//   collector.record_llm_call("gpt-4o", 100, 50, 2.5);
//   collector.end_task("t1", sop_telemetry::TaskStatus::completed);
#pragma once

#include <sop_telemetry/collector.hpp>
#include <sop_telemetry/config.hpp>
#include <sop_telemetry/data_store.hpp>
#include <sop_telemetry/environment.hpp>
#include <sop_telemetry/error_handler.hpp>
#include <sop_telemetry/manager.hpp>
#include <sop_telemetry/pricing.hpp>
#include <sop_telemetry/types.hpp>
