// Command reopen opens and closes the engine on a bundle again and again, as a managed node's
// configure and cleanup do, and prints the process's resident memory every 10 cycles: what a robot
// that reconfigures its node for hours keeps of each cycle.
//
//	export DYSL_ORT_LIB=$(scripts/fetch-ort.sh)
//	go run ./examples/reopen [-cycles 60] [BUNDLE_DIR]      # default: models/closedloop/small_relative
//	MALLOC_ARENA_MAX=2 go run ./examples/reopen              # glibc keeping fewer arenas
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"dysl_vla/policy"
	"dysl_vla/policy/ortbackend"
	"dysl_vla/skipping"
)

func main() {
	cycles := flag.Int("cycles", 60, "open/close cycles")
	flag.Parse()
	model := "models/closedloop/small_relative"
	if flag.NArg() > 0 {
		model = flag.Arg(0)
	}
	if *cycles < 1 {
		fmt.Fprintf(os.Stderr, "reopen: -cycles is %d, expected 1 or more\n", *cycles)
		os.Exit(2)
	}
	if err := run(model, *cycles); err != nil {
		fmt.Fprintln(os.Stderr, "reopen:", err)
		os.Exit(1)
	}
}

func run(model string, cycles int) error {
	opener := ortbackend.Opener(ortbackend.Config{LibraryPath: os.Getenv(ortbackend.LibraryEnvVar)})
	for i := 1; i <= cycles; i++ {
		e, err := policy.Open(model, opener, skipping.DefaultConfig())
		if err != nil {
			return err
		}
		if err := e.Close(); err != nil {
			return err
		}
		if i == 1 || i%10 == 0 || i == cycles {
			// Go's own garbage returned first: what stays is what the runtime and glibc hold.
			runtime.GC()
			debug.FreeOSMemory()
			rss, err := residentKiB()
			if err != nil {
				return err
			}
			fmt.Printf("cycle %d: resident %d MiB\n", i, rss/1024)
		}
	}
	return nil
}

// residentKiB is VmRSS of /proc/self/status, in KiB.
func residentKiB() (int, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "VmRSS:"); ok {
			var kib int
			_, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kib)
			return kib, err
		}
	}
	return 0, fmt.Errorf("/proc/self/status has no VmRSS line")
}
