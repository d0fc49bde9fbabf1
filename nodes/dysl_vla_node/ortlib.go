package main

import (
	"os"

	"dysl_vla/policy/ortbackend"
)

// ortLibrary is the ONNX Runtime library the node loads: $DYSL_ORT_LIB, else the one `make ort`
// installed in the checkout the node was built in (colcon's install/ inside it) or launched from,
// as dysl finds it; "" when there is none, and the backend says how to get one. It has no build tag
// so that it is tested without ROS.
func ortLibrary() string {
	if lib := os.Getenv(ortbackend.LibraryEnvVar); lib != "" {
		return lib
	}
	return ortbackend.FetchedLibraryOfThisProgram()
}
