package mavbridge

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Who keeps a place on a server endpoint. A udp-server or tcp-server endpoint opens a channel for each
// peer, MaxChannels at most. Were every newcomer refused once they are all open, peers that keep
// sending (a router misconfigured into a flood, a hostile host) would hold every place, and the arm
// controller could not connect until one of them had been silent for gomavlib's idle timeout of a
// minute: a robot whose controller cannot reach the policy. So a newcomer takes the place of the
// least useful channel instead, as the listener accepts it:
//
//   - A protected channel is never closed for a newcomer: one that carried a frame of the peer the
//     endpoint serves within the endpoint's protection lapse (serverChannel.protected, one rule for
//     both). For a Bridge that frame is a heartbeat of its target, the controller, and the lapse its
//     LinkTimeout. A Monitor has no target: it serves a bridge, known on a channel by the ids that
//     sent a VLA_ACTION_CHUNK part there (only a bridge sends them), and any frame of those ids on
//     the channel (its heartbeats, once a second) keeps the place, for bridgeProtectionLapse. The
//     protection lapses because a peer that lost power leaves a TCP connection open (no FIN reaches
//     us): were it protected still, the peer connecting again after its restart would be refused
//     with max_channels 1 until gomavlib's idle timeout of a minute closed the dead one.
//   - Nor is a channel younger than newcomerGrace: the controller heartbeats once a second, and its
//     first heartbeat must have time to arrive on the channel it has just opened. The grace also
//     bounds the turnover: MaxChannels channels closed per grace at most, however many peers crowd in.
//   - Of the others, a channel that has carried no valid MAVLink frame (a port scan, a peer speaking
//     another protocol) goes first, the oldest of them; then the one whose last valid frame is the
//     oldest.
//   - When every channel is protected or young, the newcomer is refused.
//
// Each channel closed so is counted (Stats.ChannelsEvicted) and reported (EventChannelEvicted) as
// refusals are. The evicted peer, if it goes on sending, is a newcomer in its turn: more peers than
// places take turns in the unprotected places, which a larger MaxChannels (mavlink.max_channels)
// ends. A flood from more UDP source addresses than places keeps those places turning over; the
// controller takes one when its datagram comes first, and keeps it once its heartbeat is heard.
//
// The protection trusts the system and component ids of a frame's header, which any peer can send:
// MaxChannels peers sending with the controller's ids still hold every place. MAVLink 2 signing does
// not shut that door here: the bridge has no signing key, so it takes a signed frame without checking
// its signature (gomavlib does so without a key) and signs none of its own. A firewall, or a client
// endpoint (whose one channel is the controller's), does.

// newcomerGrace is how long a new channel keeps its place whatever it carries: three of MAVLink's
// one-second heartbeat periods, for the controller to be heard on it.
const newcomerGrace = 3 * time.Second

// bridgeProtectionLapse is how long a Monitor keeps protecting a bridge's channel after the bridge's
// last frame on it: three of a Bridge's one-second heartbeats (its default HeartbeatPeriod), a second
// more than the Bridge's DefaultLinkTimeout waits for the controller's.
const bridgeProtectionLapse = 3 * time.Second

// crowdingReportPeriod is the least time between two reports of connections a server endpoint refused,
// or of channels it closed for newcomers: a flood, which a UDP endpoint meets datagram by datagram, is
// said once a period, not once a packet.
const crowdingReportPeriod = 10 * time.Second

// reportThrottle lets the first of a run of reports through, then one at most every
// crowdingReportPeriod, and counts those held back in between.
type reportThrottle struct {
	heard   time.Time // when a report was last let through
	unheard uint64    // counted since
}

// count counts one more at now and says whether its report is due, with the number counted since the
// report let through before, this one included.
func (r *reportThrottle) count(now time.Time) (due bool, since uint64) {
	r.unheard++
	if !r.heard.IsZero() && now.Sub(r.heard) < crowdingReportPeriod {
		return false, 0
	}
	since = r.unheard
	r.heard, r.unheard = now, 0
	return true, since
}

// serverChannel is a connection a server endpoint handed to gomavlib, with what the endpoint knows of
// it when a newcomer finds every place taken. The fields after listener are guarded by listener.mu.
type serverChannel struct {
	net.Conn
	listener *countingListener
	opened   time.Time
	// heard is when the channel last carried a valid frame; zero while it has carried none.
	heard time.Time
	// served is when the channel last carried a frame of the peer the endpoint serves; zero while it
	// has carried none.
	served time.Time

	// evictedFor is the reason the listener closed the channel, which reading it then returns: gomavlib
	// reports it as the reason the channel closed, where the closed socket would say nothing of why.
	evictedFor atomic.Pointer[evictedError]
	closeOnce  sync.Once
}

// evictedError says a channel was closed to make room for a connection from newcomer.
type evictedError struct{ newcomer string }

func (e *evictedError) Error() string {
	return "closed to make room for a connection from " + e.newcomer + ", every channel being open"
}

func (c *serverChannel) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		if evicted := c.evictedFor.Load(); evicted != nil {
			err = evicted
		}
	}
	return n, err
}

// Close closes the connection and gives its place back, once, though gomavlib and closeConnections may
// both close it.
func (c *serverChannel) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { c.listener.release(c) })
	return err
}

// heardFrame records that the channel carried a valid frame, one of the peer the endpoint serves when
// protect is set.
func (c *serverChannel) heardFrame(protect bool) {
	now := c.listener.reg.now()
	c.listener.mu.Lock()
	defer c.listener.mu.Unlock()
	c.heard = now
	if protect {
		c.served = now
	}
}

// protected says whether the channel keeps its place at now: it carried a frame of the peer the
// endpoint serves within lapse of now.
func (c *serverChannel) protected(now time.Time, lapse time.Duration) bool {
	return !c.served.IsZero() && now.Sub(c.served) < lapse
}

// lastSign is when the channel last carried a valid frame, or opened if it has carried none.
func (c *serverChannel) lastSign() time.Time {
	if c.heard.IsZero() {
		return c.opened
	}
	return c.heard
}

// lessUseful says whether a is to go before b: a channel that never carried a valid frame before one
// that did, then the one whose last sign of life is older.
func lessUseful(a, b *serverChannel) bool {
	if a.heard.IsZero() != b.heard.IsZero() {
		return a.heard.IsZero()
	}
	return a.lastSign().Before(b.lastSign())
}

// leastUseful is the channel among open that a newcomer at now takes the place of, or nil when every
// one is protected (protectionLapse: see serverChannel.protected) or younger than newcomerGrace.
func leastUseful(open map[*serverChannel]struct{}, now time.Time, protectionLapse time.Duration) *serverChannel {
	var least *serverChannel
	for c := range open {
		if c.protected(now, protectionLapse) || now.Sub(c.opened) < newcomerGrace {
			continue
		}
		if least == nil || lessUseful(c, least) {
			least = c
		}
	}
	return least
}

// admit gives conn a place, closing the least useful channel when every place is taken, and returns
// the channel conn opens; nil, closing nothing, when no channel may be closed.
func (l *countingListener) admit(conn net.Conn) *serverChannel {
	now := l.reg.now()
	l.mu.Lock()
	var evicted *serverChannel
	var report EventChannelEvicted
	if len(l.open) >= l.limit {
		evicted = leastUseful(l.open, now, l.reg.protectionLapse)
		if evicted == nil {
			l.mu.Unlock()
			return nil
		}
		delete(l.open, evicted)
		report = EventChannelEvicted{Endpoint: l.label, Peer: evicted.RemoteAddr().String(),
			Newcomer: conn.RemoteAddr().String(), Limit: l.limit, Silent: evicted.heard.IsZero(),
			Idle: now.Sub(evicted.lastSign())}
	}
	channel := &serverChannel{Conn: conn, listener: l, opened: now}
	l.open[channel] = struct{}{}
	l.mu.Unlock()

	if evicted != nil {
		evicted.evictedFor.Store(&evictedError{newcomer: report.Newcomer})
		evicted.Close() //nolint:errcheck // gomavlib's reader sees the end and closes the channel
		l.reg.evict(report)
	}
	return channel
}

// release gives c's place back.
func (l *countingListener) release(c *serverChannel) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.open, c)
}

// openChannels is the number of places taken.
func (l *countingListener) openChannels() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open)
}
