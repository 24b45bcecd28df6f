// Shared declarations of the nanobind module's parts.
#pragma once

#include <nanobind/nanobind.h>

namespace sop_telemetry::python {

void bind_types(nanobind::module_& m);
void bind_engine(nanobind::module_& m);
void bind_hooks(nanobind::module_& m);
void bind_runs(nanobind::module_& m);
void bind_prepare(nanobind::module_& m);

}  // namespace sop_telemetry::python
