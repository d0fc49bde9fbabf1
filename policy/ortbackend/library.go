package ortbackend

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// fetchedVersion is the ONNX Runtime release scripts/fetch-ort.sh installs.
const fetchedVersion = "1.24.1"

// FetchedLibraryPath is where scripts/fetch-ort.sh installs the CPU library for this machine's
// architecture, relative to the repository root.
func FetchedLibraryPath() string {
	arch := runtime.GOARCH
	if arch == "amd64" {
		arch = "x64"
	}
	return filepath.Join(".cache", "ort", fetchedVersion, "linux-"+arch, "libonnxruntime.so.1")
}

// FindFetchedLibrary looks for the library scripts/fetch-ort.sh installed in dir and in each of its
// parents, nearest first, and returns its path, or "" when none of them holds one. A tool started from
// inside the repository, or built into its bin/, finds the library `make demo` fetched this way.
func FindFetchedLibrary(dir string) string {
	rel := FetchedLibraryPath()
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		candidate := filepath.Join(dir, rel)
		if info, err := os.Stat(candidate); err == nil && !info.IsDir() {
			return candidate
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// DefaultLibrary is the library a program loads when no flag names one: $DYSL_ORT_LIB, else the one
// scripts/fetch-ort.sh (make ort, make demo) installed in the repository the running program lies in
// (bin/dysl, or a colcon install/ inside the checkout), else the one its working directory is in (go
// run, ros2 launch from the checkout); "" when none of them gives one.
func DefaultLibrary() string {
	if lib := os.Getenv(LibraryEnvVar); lib != "" {
		return lib
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			if lib := FindFetchedLibrary(filepath.Dir(exe)); lib != "" {
				return lib
			}
		}
	}
	if wd, err := os.Getwd(); err == nil {
		return FindFetchedLibrary(wd)
	}
	return ""
}

// fetchHint tells the reader how to get a library, for error messages.
func fetchHint() string {
	return fmt.Sprintf("scripts/fetch-ort.sh (or make ort) installs ONNX Runtime %s into %s and prints the library's path",
		fetchedVersion, filepath.Dir(FetchedLibraryPath())+"/")
}
