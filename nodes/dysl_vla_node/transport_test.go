package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A camera on the other image transport than the node's is named with the setting to change; a
// camera on the node's own topic, or nothing on either, draws nothing.
func TestTransportHintNamesTheOtherTransport(t *testing.T) {
	graph := map[string][]string{
		"/flat":                     {"sensor_msgs/msg/CompressedImage"}, // compressed frames on a topic not named so
		"/cam/image_raw/compressed": {"sensor_msgs/msg/CompressedImage"},
		"/arm/image_raw":            {"sensor_msgs/msg/Image"},
		"/odd/image/compressed":     {"std_msgs/msg/String"},
	}
	offered := func(topic string) []string { return graph[topic] }

	require.Equal(t, "nothing publishes sensor_msgs/msg/Image on /cam/image_raw, but sensor_msgs/msg/CompressedImage is published "+
		"on /cam/image_raw/compressed: the camera uses the other image transport; set the parameter image_transport to "+
		`"compressed" (launch argument image_transport:=compressed)`,
		transportHint("/cam/image_raw", "sensor_msgs/msg/Image", 0, offered))
	require.Equal(t, "nothing publishes sensor_msgs/msg/CompressedImage on /arm/image_raw/compressed, but sensor_msgs/msg/Image is "+
		"published on /arm/image_raw: the camera uses the other image transport; set the parameter image_transport to "+
		`"raw" (launch argument image_transport:=raw)`,
		transportHint("/arm/image_raw/compressed", "sensor_msgs/msg/CompressedImage", 0, offered))

	require.Equal(t, "nothing publishes sensor_msgs/msg/CompressedImage on /cam/image_raw/compressed/compressed, but it is published "+
		"on /cam/image_raw/compressed: with image_transport compressed, image_topic names the camera's base topic; set it to "+
		"/cam/image_raw in the params file, or under the launch file pass image_topic:=/cam/image_raw instead",
		transportHint("/cam/image_raw/compressed/compressed", "sensor_msgs/msg/CompressedImage", 0, offered), "image_topic names the compressed topic")

	require.Empty(t, transportHint("/cam/image_raw", "sensor_msgs/msg/Image", 1, offered), "a publisher on the node's own topic")
	require.Empty(t, transportHint("/none", "sensor_msgs/msg/Image", 0, offered), "nothing on either topic")
	require.Empty(t, transportHint("/odd/image", "sensor_msgs/msg/Image", 0, offered), "another type on the other topic")
	require.Empty(t, transportHint("/instruction", "std_msgs/msg/String", 0, offered), "not an image subscription")
	require.Empty(t, transportHint("/flat/compressed", "sensor_msgs/msg/CompressedImage", 0, offered),
		"image_topic /flat already is the base: nothing to set it to")
}
