// Package msggen generates the Go code of package msgs from ROS interface definitions: for every
// .msg and .srv file (the package's own and the upstream ones it carries) a Go type, its CDR codec,
// its type name and the ros2msg schema text that MCAP bags carry, plus the registry of every type.
//
// Load reads the definition tree, Generate returns the files; the API value says what the .msg files
// cannot (Go names, enum types, doc comments). Command msgs/internal/cmd/msggen runs it, through
// `go generate ./msgs`, and a test in package msgs fails when the committed files are stale.
package msggen
