package main

import (
	"fmt"
	"slices"
	"strings"

	"dysl_vla/nodecore"
)

// transportHint says what to set when nothing publishes on the node's image topic but the camera is
// found next to it: on the other image transport's topic (nodecore.OtherImageTransport) with that
// transport's type, or, with the compressed transport, on the topic image_topic itself names when
// that is already a compressed one (/compressed added twice). DDS matches none of them, so the node
// would wait for frames without a word. subscribed is the node's image topic as resolved and its type;
// offered lists the types published on a topic. It returns "" when there is nothing to say.
func transportHint(subscribed, subscribedType string, publishersOnSubscribed int, offered func(topic string) []string) string {
	if publishersOnSubscribed > 0 {
		return ""
	}
	if base, ok := strings.CutSuffix(subscribed, "/compressed"); ok && subscribedType == nodecore.CompressedImageType &&
		strings.HasSuffix(base, "/compressed") && slices.Contains(offered(base), nodecore.CompressedImageType) {
		camera := strings.TrimSuffix(base, "/compressed")
		return fmt.Sprintf("nothing publishes %s on %s, but it is published on %s: with %s %s, image_topic names the camera's "+
			"base topic; set it to %s in the params file, or under the launch file pass %s:=%s instead",
			subscribedType, subscribed, base, nodecore.ParamImageTransport, nodecore.ImageTransportCompressed,
			camera, nodecore.ParamImageTopic, camera)
	}
	other, otherType, setting, ok := nodecore.OtherImageTransport(subscribed, subscribedType)
	if !ok || !slices.Contains(offered(other), otherType) {
		return ""
	}
	return fmt.Sprintf("nothing publishes %s on %s, but %s is published on %s: the camera uses the other image transport; "+
		"set the parameter %s to %q (launch argument %s:=%s)",
		subscribedType, subscribed, otherType, other, nodecore.ParamImageTransport, setting, nodecore.ParamImageTransport, setting)
}
