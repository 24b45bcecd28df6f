# SOP Agents Telemetry — every command installs what it needs first.
#   make test    build and run the whole test suite (plain, ASan+UBSan, TSan)
#   make demo    run the reference SOP host offline on this repository, show its session and report
#   make bench   run the benchmarks and print the figures

JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -G Ninja
BUILD := build
BUILD_ASAN := build-asan
BUILD_TSAN := build-tsan

.PHONY: all deps venv venv-oldest build test test-plain test-schema test-install test-python test-cli test-asan test-tsan demo bench clean

all: build

deps:
	@bash scripts/install-deps.sh

# .venv: newest supported smolagents; .venv-oldest: the oldest (1.17). Both get this package.
venv: deps
	@bash scripts/setup-venv.sh .venv requirements-dev.txt --with-package

venv-oldest: deps
	@bash scripts/setup-venv.sh .venv-oldest requirements-oldest.txt --with-package

build: deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: test-plain test-schema test-install test-python test-cli test-asan test-tsan

test-plain: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Real session files (from the demo) must match the documented JSON Schema.
test-schema: build venv
	rm -rf $(BUILD)/schema-check && mkdir -p $(BUILD)/schema-check
	SOP_TELEMETRY_DIR=$(CURDIR)/$(BUILD)/schema-check ./$(BUILD)/examples/three_layer_demo >/dev/null
	.venv/bin/python tests/schema/check_session_schema.py $(BUILD)/schema-check

# The Python front and the smolagents instrumentation, against the newest and the oldest
# supported smolagents.
test-python: venv venv-oldest
	.venv/bin/python -m pytest -q -p no:cacheprovider tests/python
	.venv-oldest/bin/python -m pytest -q -p no:cacheprovider tests/python

# The sop-telemetry command end to end (its report and dashboard in headless Chromium), on
# sessions the engine writes through the Python package.
test-cli: build venv
	SOP_TELEMETRY_CLI=$(CURDIR)/$(BUILD)/cli/sop-telemetry .venv/bin/python -m pytest -q -p no:cacheprovider tests/cli

# The installed CMake package must be usable with find_package(sop_telemetry).
test-install: build
	bash tests/install/check_install.sh $(BUILD)

test-asan: deps
	cmake -S . -B $(BUILD_ASAN) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug \
	  -DSOP_TELEMETRY_SANITIZE=address,undefined -DSOP_TELEMETRY_BUILD_BENCH=OFF >/dev/null
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS)

test-tsan: deps
	cmake -S . -B $(BUILD_TSAN) $(CMAKE_FLAGS) -DCMAKE_BUILD_TYPE=Debug \
	  -DSOP_TELEMETRY_SANITIZE=thread -DSOP_TELEMETRY_BUILD_BENCH=OFF >/dev/null
	cmake --build $(BUILD_TSAN) -j $(JOBS)
	cd $(BUILD_TSAN) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --output-on-failure -j $(JOBS)

# The reference host on this repository, offline (a recorded replay of its model calls):
# sop-agents → supervisor → 2 micro agents → tools and LLM calls; then the session's summary
# and its HTML report.
DEMO_REPORT := $(BUILD)/demo-report.html
demo: build venv
	.venv/bin/sop-agents run "分析这个代码仓库的架构" --model replay:examples/replay/repo_analysis.json
	@echo
	.venv/bin/sop-telemetry show latest
	.venv/bin/sop-telemetry report latest -o $(DEMO_REPORT)

# Every benchmark runs even when an earlier one misses its target; the exit status says if any did.
bench: build venv-bench
	@status=0; python3 bench/run_benchmarks.py $(BUILD) || status=1; \
	.venv-bench/bin/python bench/bench_python.py || status=1; exit $$status

# The Python benchmark compares with openinference-instrumentation-smolagents in its own venv.
venv-bench: deps
	@bash scripts/setup-venv.sh .venv-bench requirements-bench.txt --with-package

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) build/python-* .venv .venv-oldest .venv-bench
