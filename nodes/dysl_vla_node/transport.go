package main

import (
	"fmt"
	"slices"
	"strings"

	"dysl_vla/nodecore"
)

// transportHint says what to set when the camera publishes on the other image transport than the one
// the node takes: nothing publishes on the node's image topic, while the topic of the other transport
// (image_transport's names: <image_topic> raw, <image_topic>/compressed compressed) carries that
// transport's type. DDS matches neither, so the node would wait for frames without a word. subscribed
// is the node's image topic as resolved and its type; offered lists the types published on the other
// transport's topic, which is returned with the hint ("" when there is nothing to say).
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
