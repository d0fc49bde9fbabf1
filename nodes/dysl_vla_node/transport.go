package main

import (
	"fmt"
	"slices"
	"strings"

	"dysl_vla/nodecore"
)

// transportHint says what to set when nothing publishes on the node's image topic but the camera is
// found next to it: on the other image transport's topic (image_transport's names: <image_topic> raw,
// <image_topic>/compressed compressed) with that transport's type, or, with the compressed transport,
// on the topic image_topic itself names when that is already a compressed one (/compressed added
// twice). DDS matches none of them, so the node would wait for frames without a word. subscribed is
// the node's image topic as resolved and its type; offered lists the types published on a topic.
// It returns "" when there is nothing to say.
func transportHint(subscribed, subscribedType string, publishersOnSubscribed int, offered func(topic string) []string) string {
	if publishersOnSubscribed > 0 {
		return ""
	}
	var other, otherType, setting string
	switch subscribedType {
	case nodecore.ImageType:
		other, otherType, setting = subscribed+"/compressed", nodecore.CompressedImageType, nodecore.ImageTransportCompressed
	case nodecore.CompressedImageType:
		base, ok := strings.CutSuffix(subscribed, "/compressed")
		if !ok {
			return ""
		}
		if slices.Contains(offered(base), nodecore.CompressedImageType) {
			// image_topic names the compressed topic itself, and the node added /compressed again.
			return fmt.Sprintf("nothing publishes %s on %s, but it is published on %s: with %s %s, set the parameter %s to "+
				"the camera's base topic, %s (launch argument %s:=%s)", subscribedType, subscribed, base,
				nodecore.ParamImageTransport, nodecore.ImageTransportCompressed, nodecore.ParamImageTopic,
				strings.TrimSuffix(base, "/compressed"), nodecore.ParamImageTopic, strings.TrimSuffix(base, "/compressed"))
		}
		other, otherType, setting = base, nodecore.ImageType, nodecore.ImageTransportRaw
	default:
		return ""
	}
	if !slices.Contains(offered(other), otherType) {
		return ""
	}
	return fmt.Sprintf("nothing publishes %s on %s, but %s is published on %s: the camera uses the other image transport; "+
		"set the parameter %s to %q (launch argument %s:=%s)",
		subscribedType, subscribed, otherType, other, nodecore.ParamImageTransport, setting, nodecore.ParamImageTransport, setting)
}
