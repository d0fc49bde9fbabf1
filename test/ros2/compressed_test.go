//go:build ros2

package ros2test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"dysl_vla/compressedimage"
	"dysl_vla/msgs"
)

// compressedGoodImage is goodImage as image_transport's compressed transport publishes it: a
// sensor_msgs/msg/CompressedImage for `ros2 topic pub`, stamped now, its PNG in data.
func compressedGoodImage(t *testing.T) string {
	m := manifest(t)
	table := []float64{0.5, 0.5, 0.5}
	if m.Image.Balance != nil {
		table = m.Image.Balance
	}
	img := msgs.Image{Width: uint32(m.Image.Width), Height: uint32(m.Image.Height), Encoding: "rgb8", Step: uint32(3 * m.Image.Width),
		Data: make([]byte, 3*m.Image.Width*m.Image.Height)}
	for i := range img.Data {
		img.Data[i] = byte(int(255*table[i%3]) + (i/3)%9 - 4)
	}
	c, err := compressedimage.Encode(&img, compressedimage.PNG)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "{header: auto, format: '%s', data: [", c.Format)
	for i, v := range c.Data {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(v)))
	}
	b.WriteString("]}")
	return b.String()
}

// Launched with image_transport:=compressed, the node takes CompressedImage frames on the camera's
// compressed topic (image_topic + /compressed, as image_transport names it, the launch file's
// remapping included) and serves chunks from them.
func TestCompressedImageTransportServesChunks(t *testing.T) {
	r := NewROS(t)
	launch := launchNode(t, r, "image_transport:=compressed", "image_topic:=/camera/color/image_raw")
	launch.WaitFor(t, `serving .* on /camera/color/image_raw/compressed, instruction on /instruction`, 5*time.Second)
	publishInstruction(t, r, "grab the red block, put it on the blue pad")
	r.Start("compressed image publisher", nil, "ros2", "topic", "pub", "--qos-reliability", "best_effort", "-r", "5",
		"/camera/color/image_raw/compressed", "sensor_msgs/msg/CompressedImage", compressedGoodImage(t))

	chunk := echoOnce(t, r, "/action_chunk", 30*time.Second)
	if got, want := field(t, chunk, "steps"), strconv.Itoa(manifest(t).Dims.Chunk); got != want {
		t.Errorf("steps %s, want the manifest's chunk %s", got, want)
	}
	diags := echo(t, r, "/diagnostics", 2500*time.Millisecond)
	if len(diags) == 0 || !strings.Contains(diags[len(diags)-1], "message: acting") {
		t.Errorf("diagnostics do not say the node is acting:\n%s", strings.Join(diags, "\n---"))
	}
	// A frame dropped as superseded or stale says how busy the machine was; one the node could not
	// decode is dropped as a message on the topic, which is what this transport must never cause.
	for _, bad := range []string{"refused", "none of its messages reach", "message on /camera/color/image_raw/compressed dropped"} {
		if strings.Contains(launch.Output(), bad) {
			t.Errorf("the node logged %q:\n%s", bad, launch.Output())
		}
	}
}

// A camera publishing compressed frames while the node takes raw ones (the default) never matches in
// DDS; the node names the other transport's topic and the setting to change, instead of waiting for
// frames without a word.
func TestCameraOnTheOtherTransportIsNamed(t *testing.T) {
	r := NewROS(t)
	launch := launchNode(t, r)
	r.Start("compressed image publisher", nil, "ros2", "topic", "pub", "--qos-reliability", "best_effort", "-r", "2",
		"/image/compressed", "sensor_msgs/msg/CompressedImage", compressedGoodImage(t))
	launch.WaitFor(t, `nothing publishes sensor_msgs/msg/Image on /image, but sensor_msgs/msg/CompressedImage is published on `+
		`/image/compressed: .* set the parameter image_transport to "compressed"`, 30*time.Second)
	if !launch.Alive() {
		t.Fatalf("the node exited:\n%s", launch.Output())
	}
}
