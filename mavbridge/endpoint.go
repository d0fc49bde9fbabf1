package mavbridge

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// EndpointKind is the transport of an Endpoint.
type EndpointKind int

// Endpoint kinds; the zero value is invalid.
const (
	UDPClient EndpointKind = 1 + iota
	UDPServer
	TCPClient
	TCPServer
	Serial
)

var endpointKindNames = map[EndpointKind]string{
	UDPClient: "udp-client",
	UDPServer: "udp-server",
	TCPClient: "tcp-client",
	TCPServer: "tcp-server",
	Serial:    "serial",
}

// String returns the kind as written in an endpoint string, such as "udp-client".
func (k EndpointKind) String() string {
	if name, ok := endpointKindNames[k]; ok {
		return name
	}
	return fmt.Sprintf("EndpointKind(%d)", int(k))
}

// Endpoint says how the bridge reaches the arm controller. It is written as a string:
//
//	udp-client:HOST:PORT   send to a controller listening on UDP (a companion computer's usual setup)
//	udp-server:HOST:PORT   listen on UDP; a channel opens for each peer once it has sent something
//	tcp-client:HOST:PORT   connect to a TCP server, reconnecting every 2 s when the connection drops
//	tcp-server:HOST:PORT   accept TCP connections; HOST may be empty ("tcp-server::5760") for all interfaces
//	serial:DEVICE:BAUD     a serial device, for example "serial:/dev/ttyUSB0:57600"
//
// A server keeps Bridge.MaxChannels channels open at most (16 by default): a peer beyond them takes
// the place of the least useful channel, never the controller's, or is refused (channels.go).
type Endpoint struct {
	Kind EndpointKind
	// Address is HOST:PORT for the network kinds.
	Address string
	// Device and Baud are set for Serial.
	Device string
	Baud   int
}

// String returns the endpoint in the form ParseEndpoint reads.
func (e Endpoint) String() string {
	if e.Kind == Serial {
		return fmt.Sprintf("%s:%s:%d", e.Kind, e.Device, e.Baud)
	}
	return e.Kind.String() + ":" + e.Address
}

// otherToolsKinds are other MAVLink tools' names for the kinds, which a user coming from them types:
// pymavlink's and MAVProxy's udpin:, udpout:, tcpin: and tcp:, MAVSDK's udpin://, udpout://, tcpin://
// and tcpout://. Each is refused with the name it has here, not merely as unknown.
var otherToolsKinds = map[string]EndpointKind{"udpin": UDPServer, "udpout": UDPClient, "tcpin": TCPServer, "tcp": TCPClient, "tcpout": TCPClient}

// ParseEndpoint reads an endpoint string such as "udp-client:127.0.0.1:14550" or "serial:/dev/ttyUSB0:57600".
func ParseEndpoint(s string) (Endpoint, error) {
	kindName, rest, found := strings.Cut(s, ":")
	var kind EndpointKind
	for k, name := range endpointKindNames {
		if name == kindName {
			kind = k
		}
	}
	// MAVSDK writes its endpoints as URLs (udpin://0.0.0.0:14540, serial:///dev/ttyUSB0:57600).
	address, url := strings.CutPrefix(rest, "//")
	if renamed, ok := otherToolsKinds[kindName]; ok && found {
		return Endpoint{}, fmt.Errorf("endpoint %q: the %s form of other MAVLink tools is %s here: %s:%s", s, kindName, renamed, renamed, address)
	}
	if kind != 0 && url {
		return Endpoint{}, fmt.Errorf("endpoint %q: expected no // after the kind: %s:%s", s, kindName, address)
	}
	if !found || kind == 0 {
		return Endpoint{}, fmt.Errorf("endpoint %q: expected KIND:ADDRESS with KIND one of "+
			"udp-client, udp-server, tcp-client, tcp-server, serial", s)
	}

	if kind == Serial {
		colon := strings.LastIndex(rest, ":")
		if colon <= 0 {
			return Endpoint{}, fmt.Errorf("endpoint %q: expected serial:DEVICE:BAUD, such as serial:/dev/ttyUSB0:57600", s)
		}
		baud, err := strconv.Atoi(rest[colon+1:])
		if err != nil || baud <= 0 {
			return Endpoint{}, fmt.Errorf("endpoint %q: baud rate %q must be a positive integer", s, rest[colon+1:])
		}
		return Endpoint{Kind: Serial, Device: rest[:colon], Baud: baud}, nil
	}

	host, portText, err := net.SplitHostPort(rest)
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %q: expected %s:HOST:PORT: %w", s, kind, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return Endpoint{}, fmt.Errorf("endpoint %q: port %q must be a number from 0 to 65535", s, portText)
	}
	isClient := kind == UDPClient || kind == TCPClient
	if isClient && (host == "" || port == 0) {
		return Endpoint{}, fmt.Errorf("endpoint %q: a %s needs the controller's host and a nonzero port", s, kind)
	}
	return Endpoint{Kind: kind, Address: rest}, nil
}

// openFailure is how a failure of endpoint e to open its link reads: a client or a serial port cannot
// connect, a server cannot accept connections. endpoint is as Bridge.Endpoint gives it.
func openFailure(endpoint string, reason any) string {
	verb := "cannot connect on"
	if e, err := ParseEndpoint(endpoint); err == nil && (e.Kind == UDPServer || e.Kind == TCPServer) {
		verb = "cannot accept connections on"
	}
	return fmt.Sprintf("%s %s: %v (retrying)", verb, endpoint, reason)
}
