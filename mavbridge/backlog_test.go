package mavbridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/stretchr/testify/require"

	"dysl_vla/mavbridge/dialect"
	"dysl_vla/msgs"
)

// serialSpeedReader reads from a connection as a controller behind a 57600-baud line does: 5760
// bytes a second, in reads of 576 bytes every 100 ms.
type serialSpeedReader struct {
	conn net.Conn
	next time.Time
}

func (r *serialSpeedReader) Read(p []byte) (int, error) {
	if wait := time.Until(r.next); wait > 0 {
		time.Sleep(wait)
	}
	r.next = time.Now().Add(100 * time.Millisecond)
	return r.conn.Read(p[:min(len(p), 576)])
}

// listenWithSmallReceiveBuffer listens on a TCP port of 127.0.0.1 whose connections receive into 4
// KiB from their first segment on: the window a socket announces in its handshake is not taken back.
func listenWithSmallReceiveBuffer(t *testing.T) net.Listener {
	config := net.ListenConfig{Control: func(_, _ string, raw syscall.RawConn) error {
		var err error
		if controlErr := raw.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); controlErr != nil {
			return controlErr
		}
		return err
	}}
	listener, err := config.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { listener.Close() })
	return listener
}

// partRead is a chunk part the slow controller read: when, and when its chunk was sent (its stamp).
type partRead struct {
	at, sent time.Time
}

// slowTCPController accepts the bridge's connection on listener, heartbeats once, and reads what the
// bridge writes at serial speed. It returns a function that stops it and gives the chunk parts it
// read, in the order it read them.
func slowTCPController(t *testing.T, listener net.Listener) (stop func() []partRead) {
	peer, err := listener.Accept()
	require.NoError(t, err)
	require.NoError(t, (&frameDialect{}).streamWriter(t, peer).Write(&common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC}))
	var parts []partRead
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		reader := (&frameDialect{}).frameReader(t, &serialSpeedReader{conn: peer})
		for {
			fr, err := reader.Read()
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			if part, ok := fr.GetMessage().(*dialect.MessageVlaActionChunk); ok {
				parts = append(parts, partRead{at: time.Now(), sent: time.UnixMicro(int64(part.TimeUsec))})
			}
		}
	}()
	return func() []partRead {
		peer.Close()
		wg.Wait()
		return parts
	}
}

// readAhead is how many parts the controller read between the sending of parts[i]'s chunk and
// parts[i] itself: what the link held ahead of it, counted in the controller's own reading. Its age
// is that many parts over the reader's rate, which drops on a loaded machine (its 100 ms sleeps wake
// late); the count does not.
func readAhead(parts []partRead, i int) int {
	return i - sort.Search(i, func(j int) bool { return parts[j].at.After(parts[i].sent) })
}

// fiftyStepChunk is a chunk of 50 steps of 7 values (7 VLA_ACTION_CHUNK parts, 1.7 KB), stamped now.
func fiftyStepChunk(seq uint32) Chunk {
	return Chunk{Seq: seq, Stamp: time.Now(), StepDt: 100 * time.Millisecond, Steps: 50, Dims: 7,
		Values: make([]float32, 50*7), GripperDim: NoGripper}
}

// A link slower than the chunks (a TCP reader at 57600-baud speed) queued them in the sockets and in
// gomavlib's queue: 34 KB/s of chunks into 5.8 KB/s, and after 6 s the controller read chunks 5 s
// old, more the longer it ran, while the status said OK. Now a newer chunk supersedes the parts of
// the older ones still queued a step (100 ms) after they were, the bridge's socket holds little
// (tcpWriteBuffer), and the parts the controller reads stay as far behind as the sockets' buffers
// make them; the status says the link cuts chunks short.
func TestASlowLinkCarriesTheNewestChunks(t *testing.T) {
	listener := listenWithSmallReceiveBuffer(t)
	bridge := &Bridge{Endpoint: "tcp-client:" + listener.Addr().String(), LinkTimeout: time.Minute}
	require.NoError(t, bridge.Initialize())
	defer bridge.Close()
	stop := slowTCPController(t, listener)
	require.True(t, bridge.AwaitLink(deadline))
	forwarder := &Forwarder{Bridge: bridge, GripperDim: NoGripper}
	forwarder.LinkStatus()

	for seq := range uint32(120) { // 20 chunks a second for 6 s: 34 KB/s
		require.NoError(t, bridge.Send(fiftyStepChunk(seq)))
		time.Sleep(50 * time.Millisecond)
	}
	status := forwarder.LinkStatus()
	stats := bridge.Stats()
	parts := stop()

	// The parts read in the run's last second, counted by what the controller read ahead of them. It
	// reads about 22 parts a second, and the two sockets' buffers hold about 45. Superseded, gomavlib's
	// queue holds less than a step of chunks besides, 14 parts: 38 to 61 were read ahead of them under
	// -race beside 3 busy loops (2.5 to 2.9 s of reading there, 1.5 to 2.6 s idle). Kept, the queue
	// holds its 64 (libraryWriteBuffer), and up to 103 to 109 were (4.7 to 5.6 s), more the longer
	// the run until the queue overflowed. The age in seconds is that count over the reader's rate,
	// which drops as a loaded machine wakes its sleeps late: the count does not.
	require.NotEmpty(t, parts)
	end := parts[len(parts)-1].at
	for i := len(parts) - 1; i >= 0 && end.Sub(parts[i].at) < time.Second; i-- {
		require.Less(t, readAhead(parts, i), 80, "the controller read %d parts between the sending of part %d's chunk and the part, %v later",
			readAhead(parts, i), i, parts[i].at.Sub(parts[i].sent))
	}
	require.Positive(t, stats.ChunksSuperseded)
	require.Positive(t, stats.FramesSuperseded)
	require.Equal(t, stats.FramesAttempted,
		stats.FramesWritten+stats.FramesDropped+stats.FramesEvicted+stats.FramesSuperseded+stats.FramesInFlight)
	require.Equal(t, msgs.DiagnosticWarn, status.Level)
	require.Contains(t, status.Message, "chunks were cut short by newer ones, their parts still queued skipped unwritten: "+
		"the link carries less than the chunks need")
}

// stalledController starts bridge (its Endpoint set here) towards a TCP controller that heartbeats
// once and never reads: the socket's buffers fill, and the writer blocks on a chunk part.
func stalledController(t *testing.T, bridge *Bridge) {
	t.Helper()
	listener, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { listener.Close() })
	bridge.Endpoint, bridge.LinkTimeout = "tcp-client:"+listener.Addr().String(), time.Minute
	require.NoError(t, bridge.Initialize())
	t.Cleanup(bridge.Close)
	peer, err := listener.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { peer.Close() })
	require.NoError(t, peer.(*net.TCPConn).SetReadBuffer(4096))
	require.NoError(t, (&frameDialect{}).streamWriter(t, peer).Write(&common.MessageHeartbeat{Type: common.MAV_TYPE_GENERIC}))
	require.True(t, bridge.AwaitLink(deadline))
}

// sendUntilAChunkWaits sends chunks until one has waited wait in the queue, and returns the last
// sequence number sent.
func sendUntilAChunkWaits(t *testing.T, bridge *Bridge, wait time.Duration) uint32 {
	t.Helper()
	seq := uint32(0)
	require.Eventually(t, func() bool {
		seq++
		require.NoError(t, bridge.Send(fiftyStepChunk(seq)))
		return bridge.Stats().OldestQueuedChunk > wait
	}, deadline, 50*time.Millisecond, "no chunk waited in the queue")
	return seq
}

// A controller that stops reading holds the chunk being written, and the chunks behind it, in the
// queue: the status says how long the oldest has waited, once that is longer than MaxChunkWait, and
// Stats carries the figure.
func TestAChunkWaitingLongerThanMaxChunkWaitIsWarnedOf(t *testing.T) {
	bridge := &Bridge{MaxChunkWait: 300 * time.Millisecond}
	stalledController(t, bridge)
	forwarder := &Forwarder{Bridge: bridge, GripperDim: NoGripper}
	sendUntilAChunkWaits(t, bridge, 300*time.Millisecond)
	status := forwarder.LinkStatus()
	require.Equal(t, msgs.DiagnosticWarn, status.Level)
	// On a loaded machine the queue may also have filled before the chunk waited that long: the
	// discarded chunks are then named first, and the wait after them.
	require.True(t, strings.HasPrefix(status.Message, "link up, but "), status.Message)
	require.Regexp(t, `a chunk has waited \d+\.\d s in the queue to the controller, unwritten \(\d+ frames queued; a chunk may wait 300ms\)`,
		status.Message)
	require.Regexp(t, `^\d+\.\d$`, statusValue(t, status, "oldest queued chunk (s)"))
}

// A replay's chunks come faster than real time, each for the controller to check: with
// KeepLateChunks none is cut short, however long the writer falls behind; without, the chunks queued
// a step are.
func TestKeepLateChunksCutsNone(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("KeepLateChunks %v", keep), func(t *testing.T) {
			bridge := &Bridge{KeepLateChunks: keep}
			stalledController(t, bridge)
			seq := sendUntilAChunkWaits(t, bridge, 300*time.Millisecond)
			require.NoError(t, bridge.Send(fiftyStepChunk(seq+1)))
			stats := bridge.Stats()
			if keep {
				require.Zero(t, stats.ChunksSuperseded)
				require.Zero(t, stats.FramesSuperseded)
			} else {
				require.Positive(t, stats.ChunksSuperseded)
			}
		})
	}
}
