#!/usr/bin/env bash
# probe-flags.sh [VALUE]: runs every numeric flag of every dysl command once with VALUE (default
# 1000000000; try -3 or NaN too), each in its own process under an address-space limit, and says how
# each run ended:
#   error    refused with an error, which is what a bad value should get
#   ok       accepted, and the run finished within the time limit
#   RUNNING  accepted, and still running at the time limit: the long run the value asked for
#   CRASH    a panic or a Go 'fatal error' (out of memory): a defect, and the script fails
# It is the Go test TestNumericFlagsWithAValue (nodes/dysl/flags_probe_test.go), which walks the same
# command tree and uses the same table of each command's smallest arguments as the unit test of -3 and
# NaN; the test command skips it, because values this large are only probed, never run to their end.
#
# Environment: DYSL_PROBE_TIMEOUT (seconds per run, default 10), DYSL_PROBE_LIMIT_KB (ulimit -v,
# default 6000000), DYSL_ORT_LIB (default: scripts/fetch-ort.sh fetches ONNX Runtime). About 8
# minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export DYSL_ORT_LIB=${DYSL_ORT_LIB:-$(scripts/fetch-ort.sh)}
DYSL_PROBE_VALUE=${1:-1000000000} go test ./nodes/dysl -run '^TestNumericFlagsWithAValue$' -count=1 -v -timeout 60m
