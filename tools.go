//go:build tools && ros2

// This file pins the project's chosen dependencies in go.mod while their packages are being written,
// so parallel work does not race on go.mod. It is never compiled (the tags are never set together).
package dyslvla

import (
	_ "github.com/bluenviron/gomavlib/v3"
	_ "github.com/foxglove/mcap/go/mcap"
	_ "github.com/gomlx/gomlx/backends/simplego"
	_ "github.com/gomlx/onnx-gomlx/onnx"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/stretchr/testify/require"
	_ "github.com/tiiuae/rclgo/pkg/rclgo"
	_ "github.com/yalue/onnxruntime_go"
	_ "gonum.org/v1/gonum/mat"
	_ "gonum.org/v1/plot"
	_ "google.golang.org/protobuf/encoding/protowire"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
)
