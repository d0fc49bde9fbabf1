package main

// endpointQoS is what decides whether DDS matches a publisher with a subscription at all: the
// reliability and durability each side asks for or offers.
type endpointQoS struct {
	reliable, transientLocal bool
}

// qosMismatch says why a publisher offering offered never delivers to a subscription requesting
// requested, as rclcpp's "offering incompatible QoS" warning does; "" when they match. A reliable
// request needs a reliable offer; a transient-local request (the instruction, so that a node started
// late still gets the one in force) needs a transient-local offer.
func qosMismatch(requested, offered endpointQoS) string {
	switch {
	case requested.reliable && !offered.reliable:
		return "it offers best-effort reliability and this node's subscription asks for reliable: publish reliable"
	case requested.transientLocal && !offered.transientLocal:
		return "it offers volatile durability and this node's subscription asks for transient local, so that a node " +
			"started later still gets the message in force: publish with transient-local durability " +
			"(ros2 topic pub --qos-durability transient_local; rclpy: QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))"
	}
	return ""
}
