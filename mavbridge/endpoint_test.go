package mavbridge

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseEndpoint(t *testing.T) {
	valid := []struct {
		in   string
		want Endpoint
	}{
		{"udp-client:127.0.0.1:14550", Endpoint{Kind: UDPClient, Address: "127.0.0.1:14550"}},
		{"udp-server:0.0.0.0:14550", Endpoint{Kind: UDPServer, Address: "0.0.0.0:14550"}},
		{"tcp-client:controller.local:5760", Endpoint{Kind: TCPClient, Address: "controller.local:5760"}},
		{"tcp-server::5760", Endpoint{Kind: TCPServer, Address: ":5760"}},
		{"udp-server:127.0.0.1:0", Endpoint{Kind: UDPServer, Address: "127.0.0.1:0"}},
		{"serial:/dev/ttyUSB0:57600", Endpoint{Kind: Serial, Device: "/dev/ttyUSB0", Baud: 57600}},
	}
	for _, tc := range valid {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseEndpoint(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.in, got.String(), "String must give back what ParseEndpoint reads")
		})
	}

	invalid := []struct{ in, want string }{
		{"", "expected KIND:ADDRESS"},
		{"udp:127.0.0.1:14550", "KIND one of udp-client"},
		{"udpin:0.0.0.0:14550", `endpoint "udpin:0.0.0.0:14550": the udpin form of other MAVLink tools is udp-server here: udp-server:0.0.0.0:14550`},
		{"udpout:10.0.0.2:14550", "is udp-client here: udp-client:10.0.0.2:14550"},
		{"tcpin:0.0.0.0:5760", "is tcp-server here: tcp-server:0.0.0.0:5760"},
		{"tcp:10.0.0.2:5760", "is tcp-client here: tcp-client:10.0.0.2:5760"},
		{"tcpout:10.0.0.2:5760", "is tcp-client here: tcp-client:10.0.0.2:5760"},
		{"udpin", "KIND one of udp-client"},
		{"udpin://0.0.0.0:14540", `endpoint "udpin://0.0.0.0:14540": the udpin form of other MAVLink tools is udp-server here: udp-server:0.0.0.0:14540`},
		{"tcpout://10.0.0.2:5760", "is tcp-client here: tcp-client:10.0.0.2:5760"},
		{"udp-client://10.0.0.2:14550", `endpoint "udp-client://10.0.0.2:14550": expected no // after the kind: udp-client:10.0.0.2:14550`},
		{"serial:///dev/ttyUSB0:57600", "expected no // after the kind: serial:/dev/ttyUSB0:57600"},
		{"udp-client", "expected KIND:ADDRESS"},
		{"udp-client:127.0.0.1", "expected udp-client:HOST:PORT"},
		{"udp-client::14550", "needs the controller's host"},
		{"tcp-client:host:0", "needs the controller's host and a nonzero port"},
		{"tcp-server::http", `port "http" must be a number`},
		{"udp-server:0.0.0.0:70000", "from 0 to 65535"},
		{"serial:/dev/ttyUSB0", "expected serial:DEVICE:BAUD"},
		{"serial:/dev/ttyUSB0:fast", `baud rate "fast" must be a positive integer`},
		{"serial::57600", "expected serial:DEVICE:BAUD"},
	}
	for _, tc := range invalid {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseEndpoint(tc.in)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, `endpoint "`+tc.in+`"`)
		})
	}
}
