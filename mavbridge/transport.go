package mavbridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/pion/transport/v2/udp"

	"dysl_vla/mavbridge/dialect"
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

// tcpWriteBuffer is the kernel send buffer the bridge asks for on a TCP connection (Linux doubles it
// for its bookkeeping). The default one grows to megabytes, at once on loopback: frames the bridge
// counts as written would wait there, minutes long on a link at serial speed, out of reach of a newer
// chunk (countingConn.supersede) and of the status. Kept small, a slow link's backlog stays in
// gomavlib's queue, where both see it; 4 KiB still carries a chunk (1.7 KB for 50 steps of 7
// values) twice a round trip. What the controller's own receive buffer holds is out of the bridge's
// reach all the same.
const tcpWriteBuffer = 4096

// limitSendBuffer asks for tcpWriteBuffer on conn when it is a TCP connection. A refusal leaves the
// default: the link works, with its backlog out of sight, as before.
func limitSendBuffer(conn net.Conn) {
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetWriteBuffer(tcpWriteBuffer) //nolint:errcheck // see above
	}
}

// DefaultMaxChannels is how many channels a server endpoint keeps open at once when Bridge.MaxChannels
// or Monitor.MaxChannels is 0: the controller, a ground station and a router beside it, and room to
// spare. Every channel costs gomavlib three goroutines, and a UDP one a 64 KiB datagram buffer too
// (about 75 KB in all), until its peer has been silent for gomavlib's idle timeout of a minute.
const DefaultMaxChannels = 16

// maxChannels is the channel limit a MaxChannels field sets: 0 for DefaultMaxChannels.
func maxChannels(field int) (int, error) {
	switch {
	case field == 0:
		return DefaultMaxChannels, nil
	case field < 0:
		return 0, fmt.Errorf("MaxChannels is %d, expected a positive number of channels (0: %d)", field, DefaultMaxChannels)
	}
	return field, nil
}

// countingConn is the connection under one gomavlib channel.
type countingConn struct {
	net.Conn
	written    atomic.Uint64 // frames written successfully
	failed     atomic.Uint64 // frames whose write failed; gomavlib then closes the channel
	superseded atomic.Uint64 // chunk parts skipped unwritten: a newer chunk came (supersede)
	// server is the place the channel holds on a server endpoint; nil for a client's or a serial port's.
	server *serverChannel

	// mu puts each frame's entry into Write before or after a supersede: a chunk part is written
	// whole, or skipped.
	mu sync.Mutex
	// entered counts the frames that entered Write; gomavlib writes them one at a time, in the order
	// they were handed to it, so the next one's index is entered.
	entered uint64
	// supersededBelow: a VLA_ACTION_CHUNK frame handed before it (its index below) is of a chunk a
	// newer one superseded.
	supersededBelow uint64
}

// supersede has the chunk parts handed before the frame numbered below skipped instead of written. It
// returns the bound set before, and how many frames had entered Write: those numbered below were
// written, or are being written. gomavlib's queue cannot be taken from, so a part stays in it until
// its turn, and is skipped then, at once.
func (c *countingConn) supersede(below uint64) (before, entered uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	before = c.supersededBelow
	c.supersededBelow = max(c.supersededBelow, below)
	return before, c.entered
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	skip := c.entered < c.supersededBelow && isChunkFrame(p)
	c.entered++
	c.mu.Unlock()
	if skip {
		c.superseded.Add(1)
		return len(p), nil
	}
	n, err := c.Conn.Write(p)
	if err != nil {
		c.failed.Add(1)
	} else {
		c.written.Add(1)
	}
	return n, err
}

// finished is the number of frames that left the library, written or not.
func (c *countingConn) finished() uint64 {
	return c.written.Load() + c.failed.Load() + c.superseded.Load()
}

// isChunkFrame says whether p, one whole frame as gomavlib writes it, is a VLA_ACTION_CHUNK: a
// MAVLink 2 frame (the bridge sends no other) whose message id, bytes 7 to 9, is the chunk's.
func isChunkFrame(p []byte) bool {
	return len(p) >= 10 && p[0] == frame.V2MagicByte &&
		uint32(p[7])|uint32(p[8])<<8|uint32(p[9])<<16 == dialect.ActionChunkID
}

// heardFrame records that the channel carried a valid frame, one of the peer its server endpoint
// serves when protect is set, which keeps the channel's place from newcomers (channels.go). A client
// endpoint's channel has no place to keep: nothing to record.
func (c *countingConn) heardFrame(protect bool) {
	if c.server != nil {
		c.server.heardFrame(protect)
	}
}

// transports remembers the countingConn under each open gomavlib channel, keyed by the channel's label,
// which gomavlib builds as the endpoint label (clients) or "label:remote address" (servers).
type transports struct {
	// cutFrames counts frames dropped because their datagram ended before they did.
	cutFrames atomic.Uint64

	mu       sync.Mutex
	byLabel  map[string]*countingConn
	listener net.Listener // the server endpoint's listener, for ListenAddr
	// connectErr is why a client endpoint's last attempt to connect failed (gomavlib retries without
	// a word); nil once one succeeded.
	connectErr error
	// onConnectFailed, when set, hears each new reason a connection fails: a reason repeated by the
	// retries is said once.
	onConnectFailed func(err error)

	// refused counts the connections a server endpoint closed as they came, its channels all open and
	// none of them one it could close; evicted counts the channels it closed to make room for a
	// newcomer (channels.go).
	refused, evicted atomic.Uint64
	// onRefused and onEvicted, when set, hear the first refusal and the first eviction, then one of
	// each at most every crowdingReportPeriod, each with the number since the one heard before.
	onRefused func(EventChannelRefused)
	onEvicted func(EventChannelEvicted)
	// refusals and evictions hold those reports back.
	refusals, evictions reportThrottle
	// now reads the clock of the reports and of the channels' standing: when each opened and last
	// carried a valid frame.
	now func() time.Time
	// protectionLapse is how long a server endpoint's channel stays protected after the last frame of
	// the peer it serves (channels.go); 0 protects none. Set before the endpoint starts.
	protectionLapse time.Duration
}

func newTransports() *transports {
	return &transports{byLabel: map[string]*countingConn{}, now: time.Now}
}

// refuse counts a connection from peer that endpoint closed because limit channels were open, and
// reports it when the previous report is old enough.
func (t *transports) refuse(endpoint string, peer net.Addr, limit int) {
	t.refused.Add(1)
	t.mu.Lock()
	due, since := t.refusals.count(t.now())
	hear := t.onRefused
	t.mu.Unlock()
	if due && hear != nil {
		hear(EventChannelRefused{Endpoint: endpoint, Peer: peer.String(), Limit: limit, Refused: since})
	}
}

// evict counts the channel a server endpoint closed for a newcomer, which e says (its Evicted is
// filled in here), and reports it when the previous report is old enough.
func (t *transports) evict(e EventChannelEvicted) {
	t.evicted.Add(1)
	t.mu.Lock()
	due, since := t.evictions.count(t.now())
	hear := t.onEvicted
	t.mu.Unlock()
	if due && hear != nil {
		e.Evicted = since
		hear(e)
	}
}

// connected records how a client endpoint's attempt to connect ended.
func (t *transports) connected(err error) {
	t.mu.Lock()
	news := err != nil && (t.connectErr == nil || t.connectErr.Error() != err.Error())
	t.connectErr = err
	hear := t.onConnectFailed
	t.mu.Unlock()
	if news && hear != nil {
		hear(err)
	}
}

// connectFailure is why the last attempt to connect failed, or nil.
func (t *transports) connectFailure() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.connectErr
}

// register counts the frames written to conn, the connection of the channel gomavlib labels label;
// server is the place it holds on a server endpoint, or nil.
func (t *transports) register(label string, conn net.Conn, server *serverChannel) *countingConn {
	counted := &countingConn{Conn: conn, server: server}
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

// closeConnections closes every connection still registered. A write blocked on one (a serial
// controller that stopped reading) returns at once, where gomavlib's own close would wait for its
// write timeout.
func (t *transports) closeConnections() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.byLabel {
		c.Close() //nolint:errcheck // closing: gomavlib closes it again and sees the error
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

// countingListener registers each accepted connection under the label gomavlib will give its channel,
// and keeps no more than limit of them open: gomavlib opens a channel for every connection it is
// given, so a port scan or a flood from many UDP source addresses would hold three goroutines and,
// for UDP, a datagram buffer per peer until each had been idle for a minute. Which connection keeps
// a place when they are all taken is channels.go's policy.
type countingListener struct {
	net.Listener
	label     string
	reg       *transports
	datagrams bool // each accepted connection is a UDP peer
	limit     int
	// closed is closed by Close: an error of Accept is then the end, not a hitch, and a wait before
	// retrying ends at once.
	closed    chan struct{}
	closeOnce sync.Once

	mu sync.Mutex
	// open are the channels handed to gomavlib and not closed yet, with their standing.
	open map[*serverChannel]struct{}
}

// newCountingListener keeps limit channels of listener open at most, labelled as endpoint label's;
// datagrams says each connection is a UDP peer.
func newCountingListener(listener net.Listener, label string, reg *transports, datagrams bool, limit int) *countingListener {
	return &countingListener{Listener: listener, label: label, reg: reg, datagrams: datagrams, limit: limit,
		closed: make(chan struct{}), open: map[*serverChannel]struct{}{}}
}

// Close marks the listener closed before closing it, so that Accept tells its own end from a failure.
func (l *countingListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// acceptRetryMax bounds the wait between two attempts to accept after a failure.
const acceptRetryMax = time.Second

// Accept gives a connection beyond the limit the place of a channel it closes (admit), or refuses it
// here, closing it and waiting for the next, rather than handing gomavlib an error or a closed
// connection: gomavlib's server endpoint stops accepting for
// good at the first error of Accept (it then waits for the node to close), and a closed connection
// would still become a channel, goroutines and open and close events, for every refused peer.
//
// The UDP listener (pion/transport's udp) forgets a connection once it is closed, so a refused
// source's next datagram makes a new one, refused again: each costs a few small allocations and no
// goroutine, and between datagrams this loop waits in Accept, so a refused peer is refused as often
// as it sends and never more.
func (l *countingListener) Accept() (net.Conn, error) {
	var retry time.Duration
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.closed:
				return nil, err
			default:
			}
			// Out of file descriptors (EMFILE) or an aborted handshake: handed to gomavlib, it would
			// stop this endpoint for good, and the controller could never connect again. Said (in
			// Stats.ConnectError and to a monitor), then retried after a wait that doubles to a
			// second, as net/http's server does.
			l.reg.connected(err)
			retry = min(max(2*retry, 5*time.Millisecond), acceptRetryMax)
			select {
			case <-l.closed:
				return nil, err
			case <-time.After(retry):
			}
			continue
		}
		if retry > 0 {
			retry = 0
			l.reg.connected(nil)
		}
		limitSendBuffer(conn)
		channel := l.admit(conn)
		if channel == nil {
			peer := conn.RemoteAddr()
			conn.Close() //nolint:errcheck // refused: nothing was read or written
			l.reg.refuse(l.label, peer, l.limit)
			continue
		}
		var read net.Conn = channel
		if l.datagrams {
			read = newDatagramConn(channel, &l.reg.cutFrames)
		}
		return l.reg.register(fmt.Sprintf("%s:%s", l.label, conn.RemoteAddr()), read, channel), nil
	}
}

// datagramConn makes each UDP datagram stand alone. gomavlib reads every transport as a byte stream, so
// a datagram ending in a truncated frame would have its missing bytes taken from the next datagram,
// swallowing whatever frame (a heartbeat) that one held. datagramConn reads whole datagrams and passes
// on only their complete frames; a cut tail is dropped and counted in cut.
type datagramConn struct {
	net.Conn
	cut     *atomic.Uint64
	buf     []byte
	pending []byte // the rest of the current datagram's complete frames
}

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535

func newDatagramConn(conn net.Conn, cut *atomic.Uint64) *datagramConn {
	return &datagramConn{Conn: conn, cut: cut, buf: make([]byte, maxDatagram)}
}

func (c *datagramConn) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		n, err := c.Conn.Read(c.buf)
		if err != nil {
			return 0, err
		}
		whole := completeFrames(c.buf[:n])
		if whole < n {
			c.cut.Add(1)
		}
		c.pending = c.buf[:whole]
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// completeFrames returns the length of the longest prefix of datagram that ends on a frame boundary:
// it walks the frames by their header's length, passing bytes that start no frame through to the
// parser (which reports them), and stops at a frame the datagram does not hold in full.
func completeFrames(datagram []byte) int {
	const (
		v1Overhead = 6 + 2  // header, checksum
		v2Overhead = 10 + 2 // header, checksum
		v2Signed   = 0x01   // incompat flag: a 13-byte signature follows
		v2SigSize  = 13
	)
	i := 0
	for i < len(datagram) {
		var size int
		switch datagram[i] {
		case frame.V1MagicByte:
			if i+2 > len(datagram) {
				return i
			}
			size = v1Overhead + int(datagram[i+1])
		case frame.V2MagicByte:
			if i+3 > len(datagram) {
				return i
			}
			size = v2Overhead + int(datagram[i+1])
			if datagram[i+2]&v2Signed != 0 {
				size += v2SigSize
			}
		default:
			i++
			continue
		}
		if i+size > len(datagram) {
			return i
		}
		i += size
	}
	return i
}

// gomavlibEndpoint builds the gomavlib endpoint for e whose connections are counted in reg; a server
// endpoint keeps maxChannels channels open at most.
func gomavlibEndpoint(e Endpoint, reg *transports, maxChannels int) gomavlib.EndpointConf {
	label := e.String()
	datagrams := e.Kind == UDPClient || e.Kind == UDPServer
	client := func(connect func(ctx context.Context) (net.Conn, error)) gomavlib.EndpointConf {
		return gomavlib.EndpointCustomClient{
			Label: label,
			Connect: func(ctx context.Context) (net.Conn, error) {
				conn, err := connect(ctx)
				// gomavlib cancels ctx when the bridge closes: not a failure to report. It also
				// gives each attempt a deadline of its read timeout, and a controller whose SYNs
				// vanish (a firewall) times out there: that is the failure to report.
				if errors.Is(ctx.Err(), context.Canceled) {
					if conn != nil {
						conn.Close()
					}
					return nil, context.Canceled
				}
				reg.connected(err)
				if err != nil {
					return nil, err
				}
				limitSendBuffer(conn)
				if datagrams {
					conn = newDatagramConn(conn, &reg.cutFrames)
				}
				return reg.register(label, conn, nil), nil
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
				return newCountingListener(listener, label, reg, datagrams, maxChannels), nil
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
