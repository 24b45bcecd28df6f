// ai_agents.telemetry._core: the C++ engine as seen from Python. The pure-Python package on top
// keeps the design document's names and guarantees that nothing raises into the host.
#include "bindings.hpp"

NB_MODULE(_core, m) {
    m.doc() = "SOP Agents Telemetry engine (C++)";
    // nanobind's leak report at exit is for extension developers: objects still held when the
    // interpreter ends (an agent running in a daemon thread holds a collector) are the host's
    // business, and nothing of the telemetry may reach the host's stderr.
    nanobind::set_leak_warnings(false);
    sop_telemetry::python::bind_types(m);
    sop_telemetry::python::bind_engine(m);
    sop_telemetry::python::bind_hooks(m);
    sop_telemetry::python::bind_runs(m);
    sop_telemetry::python::bind_prepare(m);
}
