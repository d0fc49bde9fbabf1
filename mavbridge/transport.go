package mavbridge

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/pion/transport/v2/udp"
	"go.bug.st/serial"
)

// Why the transport is wrapped: gomavlib queues each outgoing frame in a 64-deep buffer per channel and
// silently discards it when that buffer is full; WriteMessageTo still returns nil. To count drops truly
// the bridge opens every connection itself (through gomavlib's custom client and server endpoints) and
// wraps it in a countingConn, which counts the frames the operating system actually accepted. gomavlib
// writes each frame with exactly one Write call. Knowing how many frames it handed to a channel and how
// many were written, the bridge never lets more than libraryWriteBuffer frames be outstanding, so the
// library never drops; the bridge drops (and counts) instead.

// libraryWriteBuffer is gomavlib v3.3.0's per-channel write buffer (writeBufferSize in channel.go).
const libraryWriteBuffer = 64

// countingConn is the connection under one gomavlib channel.
type countingConn struct {
	net.Conn
	written atomic.Uint64 // frames written successfully
	failed  atomic.Uint64 // frames whose write failed; gomavlib then closes the channel
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil {
		c.failed.Add(1)
	} else {
		c.written.Add(1)
	}
	return n, err
}

// finished is the number of frames that left the library, written or not.
func (c *countingConn) finished() uint64 { return c.written.Load() + c.failed.Load() }

// transports remembers the countingConn under each open gomavlib channel, keyed by the channel's label,
// which gomavlib builds as the endpoint label (clients) or "label:remote address" (servers).
type transports struct {
	mu       sync.Mutex
	byLabel  map[string]*countingConn
	listener net.Listener // the server endpoint's listener, for ListenAddr
}

func newTransports() *transports { return &transports{byLabel: map[string]*countingConn{}} }

func (t *transports) register(label string, conn net.Conn) *countingConn {
	counted := &countingConn{Conn: conn}
	t.mu.Lock()
	t.byLabel[label] = counted
	t.mu.Unlock()
	return counted
}

func (t *transports) lookup(label string) *countingConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byLabel[label]
}

// forget removes label's entry if it still refers to conn (a reconnecting client may have replaced it).
func (t *transports) forget(label string, conn *countingConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byLabel[label] == conn {
		delete(t.byLabel, label)
	}
}

func (t *transports) listenAddr() net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.listener == nil {
		return nil
	}
	return t.listener.Addr()
}

// countingListener registers each accepted connection under the label gomavlib will give its channel.
type countingListener struct {
	net.Listener
	label string
	reg   *transports
}

func (l *countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.reg.register(fmt.Sprintf("%s:%s", l.label, conn.RemoteAddr()), conn), nil
}

// serialConn lets a serial port stand where gomavlib expects a net.Conn; a serial port has no deadlines.
type serialConn struct{ io.ReadWriteCloser }

func (serialConn) LocalAddr() net.Addr                { return nil }
func (serialConn) RemoteAddr() net.Addr               { return nil }
func (serialConn) SetDeadline(_ time.Time) error      { return nil }
func (serialConn) SetReadDeadline(_ time.Time) error  { return nil }
func (serialConn) SetWriteDeadline(_ time.Time) error { return nil }

func openSerial(device string, baud int) (net.Conn, error) {
	port, err := serial.Open(device, &serial.Mode{
		BaudRate: baud, Parity: serial.NoParity, DataBits: 8, StopBits: serial.OneStopBit,
	})
	if err != nil {
		return nil, fmt.Errorf("open serial device %s at %d baud: %w", device, baud, err)
	}
	return serialConn{port}, nil
}

// gomavlibEndpoint builds the gomavlib endpoint for e whose connections are counted in reg.
func gomavlibEndpoint(e Endpoint, reg *transports) gomavlib.EndpointConf {
	label := e.String()
	client := func(connect func(ctx context.Context) (net.Conn, error)) gomavlib.EndpointConf {
		return gomavlib.EndpointCustomClient{
			Label: label,
			Connect: func(ctx context.Context) (net.Conn, error) {
				conn, err := connect(ctx)
				if err != nil {
					return nil, err
				}
				return reg.register(label, conn), nil
			},
		}
	}
	server := func(listen func() (net.Listener, error)) gomavlib.EndpointConf {
		return gomavlib.EndpointCustomServer{
			Label: label,
			Listen: func() (net.Listener, error) {
				listener, err := listen()
				if err != nil {
					return nil, err
				}
				reg.mu.Lock()
				reg.listener = listener
				reg.mu.Unlock()
				return &countingListener{Listener: listener, label: label, reg: reg}, nil
			},
		}
	}

	switch e.Kind {
	case UDPClient, TCPClient:
		network := map[EndpointKind]string{UDPClient: "udp4", TCPClient: "tcp4"}[e.Kind]
		return client(func(ctx context.Context) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, e.Address)
		})
	case Serial:
		return client(func(context.Context) (net.Conn, error) { return openSerial(e.Device, e.Baud) })
	case UDPServer:
		return server(func() (net.Listener, error) {
			addr, err := net.ResolveUDPAddr("udp4", e.Address)
			if err != nil {
				return nil, err
			}
			return udp.Listen("udp4", addr)
		})
	case TCPServer:
		return server(func() (net.Listener, error) { return net.Listen("tcp4", e.Address) })
	}
	panic(fmt.Sprintf("mavbridge: endpoint kind %v has no transport", e.Kind))
}
