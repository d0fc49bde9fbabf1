# dysl_vla build, test and cross-build entry points. `make help` lists them.
#
# ONNX Runtime's CPU library is fetched by scripts/fetch-ort.sh into the ignored .cache/ort/ on first
# use; targets that load it pass its path to the code through DYSL_ORT_LIB. A DYSL_ORT_LIB already set
# in the environment (e.g. a GPU build on the robot) wins.

GO ?= go
ARM64_CC ?= aarch64-linux-gnu-gcc

# Packages also tested under the race detector: the pure cores, the engine, and the packages that own
# goroutines and locks (the node core's worker, the parameter server, the MAVLink bridge, replay driving
# the core, the GoMLX gradient); training's short run (TestShortTrainingRuns) separately, since its other
# tests take minutes under -race. The node's ROS 2 glue (build tag ros2, where its goroutines are) is
# not built here: make test-ros2 runs the integration tests on a race-detector build of the node.
RACE_PKGS := ./policy/... ./skipping/... ./msgs/... ./nodecore/... ./paramserver/... ./mavbridge/... ./replay/... ./training/fastgrad/... ./nodes/dysl_vla_node/
# Packages whose benchmarks `make bench` runs; narrow with `make bench BENCH_PKGS=./policy/...`.
BENCH_PKGS ?= ./...

# Shell prefix for commands that load ONNX Runtime: exports DYSL_ORT_LIB, fetching the library if the
# variable is unset, and stops the recipe if the fetch fails (the ORT tests would otherwise just skip).
WITH_ORT = lib=$${DYSL_ORT_LIB:-$$(scripts/fetch-ort.sh)} && export DYSL_ORT_LIB="$$lib" &&

.PHONY: help ort build test test-ros2 demo bench mutate arm64 arm64-glibc231 test-arm64

help:
	@echo "make ort         fetch ONNX Runtime 1.24.1 (CPU) into .cache/ort/ and print its path"
	@echo "make build       build the executables of nodes/ into bin/"
	@echo "make test        go vet, staticcheck, gofmt check, go test ./..., go test -race on $(RACE_PKGS), make test-ros2"
	@echo "make test-ros2   colcon build + the ROS 2 integration tests (test/ros2), when /opt/ros/humble exists"
	@echo "make demo        run 'dysl demo'"
	@echo "make bench       run benchmarks (BENCH_PKGS=$(BENCH_PKGS))"
	@echo "make mutate      mutation-test MUTATE_PKG (default ./skipping): which code changes no test notices"
	@echo "make arm64       cross-build nodes/ for linux/arm64 into bin/linux-arm64/ (needs glibc >= 2.34: JetPack 6)"
	@echo "make arm64-glibc231  the same against glibc 2.31 (JetPack 5) into bin/linux-arm64-glibc2.31/"
	@echo "make test-arm64  run the ONNX Runtime backend tests as arm64 code under qemu-user"

ort:
	scripts/fetch-ort.sh

build:
	$(GO) build -o bin/ ./nodes/...

# The module's packages, without the rclgo-gen output that a colcon build leaves in nodes/dysl_vla_node/rosgen
# (cgo against ROS headers; built only by colcon).
PKGS = $$($(GO) list ./... | grep -v /rosgen/)

# -timeout 20m: training's tests take 4 to 5 minutes alone on 2 cores and came within 10 s of go
# test's default 10-minute limit with two distillations beside them; the limit guards hangs, not speed.
test:
	$(GO) vet $(PKGS)
	$(GO) vet -tags ros2 ./test/ros2/
	$(GO) vet -tags xla ./training/ ./nodes/dysl/
	$(GO) tool staticcheck $(PKGS)
	$(GO) tool staticcheck -tags ros2 ./test/ros2/
	@unformatted=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt -l reports unformatted files:"; echo "$$unformatted"; exit 1; fi
	$(WITH_ORT) $(GO) test -count=1 -timeout 20m $(PKGS)
	$(WITH_ORT) $(GO) test -count=1 -race $(RACE_PKGS)
	$(GO) test -count=1 -race -run TestShortTrainingRuns ./training/
	@$(MAKE) --no-print-directory test-ros2

# The ROS 2 integration tests run whenever a Humble installation is found; CI (CI=true) never skips them.
test-ros2:
	@if [ -f /opt/ros/humble/setup.bash ]; then scripts/test-ros2.sh; \
	elif [ "$$CI" = true ]; then echo "make test: CI must run the ROS 2 tests, and /opt/ros/humble is missing" >&2; exit 1; \
	else echo "make test: SKIPPED the ROS 2 integration tests (test/ros2): no ROS 2 Humble at /opt/ros/humble"; fi

demo: ort
	$(WITH_ORT) $(GO) run ./nodes/dysl demo

bench:
	$(WITH_ORT) $(GO) test -run '^$$' -bench . -benchmem $(BENCH_PKGS)

# Mutation testing: gremlins changes one operator at a time in a copy of the module (a < into a <=, a +
# into a -) and runs the package's tests; a mutant whose tests still pass ("LIVED") is a change of
# behaviour no test notices, or a change that alters nothing (an equivalent mutant: read it to tell).
# The timeout coefficient is high because gremlins times each run from the covered tests alone, before
# go test's compile, which takes longer here. Not part of make test: a package takes minutes to hours.
MUTATE_PKG ?= ./skipping
MUTATE_WORKERS ?= 2
# Extra gremlins flags, e.g. MUTATE_FLAGS="-E '^[a-z]+/'" for a package's own files without its
# subpackages (-E excludes the files whose path under MUTATE_PKG matches).
MUTATE_FLAGS ?=
GREMLINS ?= github.com/go-gremlins/gremlins/cmd/gremlins@v0.6.0
mutate: ort
	$(WITH_ORT) $(GO) run $(GREMLINS) unleash --workers $(MUTATE_WORKERS) --timeout-coefficient 60 --output-statuses lt $(MUTATE_FLAGS) $(MUTATE_PKG)

# cgo stays off in cross builds unless CGO_ENABLED=1 is explicit, and onnxruntime_go needs cgo.
# Binaries built against bookworm's cross libc need GLIBC_2.34 (JetPack 6 / Ubuntu 22.04 is fine;
# JetPack 5 / Ubuntu 20.04 is not, see docs/notes/arm64.md): arm64-glibc231 links against
# bullseye's glibc 2.31 instead, and its binaries need only GLIBC_2.17.
arm64:
	scripts/install-arm64-tools.sh
	CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=$(ARM64_CC) $(GO) build -o bin/linux-arm64/ ./nodes/...

arm64-glibc231:
	scripts/install-arm64-tools.sh
	cc=$$(scripts/arm64-sysroot-glibc231.sh) && \
	CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC="$$cc" $(GO) build -o bin/linux-arm64-glibc2.31/ ./nodes/...

test-arm64:
	ARM64_CC=$(ARM64_CC) test/arm64/run.sh
