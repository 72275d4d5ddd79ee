# The front door.  `make` installs what is missing and builds into build/;
# `make test` runs every test tier; `make bench` the benchmarks; `make run`
# builds, puts the default image (python, node...; built once per machine by
# mmdebstrap, then cached) into the state directory, runs a first sandbox,
# then starts isletd (the Daytona API) in the foreground on its defaults.
BUILD ?= build
STATE ?= /var/lib/islet
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")

.PHONY: all deps build test bench run format clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure --timeout 1200

bench: build
	@scripts/install-deps --bench
	@bench/run

run: build
	@echo "islet: the default image (the first build on this machine takes minutes):"
	$(BUILD)/islet --state-dir $(STATE) image build-default
	@echo "islet: a first sandbox (state in $(STATE)):"
	$(BUILD)/islet --state-dir $(STATE) run --lang python --code 'import platform, os, numpy; print("hello from", platform.node(), "as uid", os.getuid(), "pid", os.getpid(), "with numpy", numpy.__version__)'
	$(BUILD)/islet --state-dir $(STATE) run -- sh -c 'ls /; cat /etc/os-release | head -1'
	@echo "isletd: the Daytona API (2 sandboxes made ahead for creates, 2 for /v1/execute); Ctrl-C stops it, its sandboxes keep running:"
	$(BUILD)/isletd --state-dir $(STATE)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
