package mavbridge

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the master stands for the controller's end of the cable, the slave
// (/dev/pts/N) is the serial device the bridge opens.
func openPTY(t *testing.T) (master *os.File, device string) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	raw, err := master.SyscallConn()
	require.NoError(t, err)
	var n int
	var ioctlErr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		if ioctlErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioctlErr == nil {
			n, ioctlErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	}))
	require.NoError(t, ioctlErr)
	device = fmt.Sprintf("/dev/pts/%d", n)
	quietLine(t, device)
	return master, device
}

// quietLine turns off the echo of a new pty's line discipline, as a real UART has none before the
// port is opened (it receives nothing while closed). A pty echoes what the controller writes from
// the start: the controller then read its own heartbeats back, mangled ("^C" for 0x03), and a 0xfe
// among them made its parser swallow the bridge's first frames, a chunk now and then (3 of 20 runs
// of TestSerialPortCarriesChunks under load).
func quietLine(t *testing.T, device string) {
	t.Helper()
	slave, err := os.OpenFile(device, os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	defer slave.Close()
	raw, err := slave.SyscallConn()
	require.NoError(t, err)
	var ioctlErr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		var tio *unix.Termios
		if tio, ioctlErr = unix.IoctlGetTermios(int(fd), unix.TCGETS); ioctlErr == nil {
			tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
			ioctlErr = unix.IoctlSetTermios(int(fd), unix.TCSETS, tio)
		}
	}))
	require.NoError(t, ioctlErr)
}

// cableEnd is the controller's end of the pty as gomavlib's connection; with deaf set it never reads,
// as a controller whose firmware stopped reading its port, and the tty's buffer fills.
type cableEnd struct {
	*os.File
	deaf bool
	shut chan struct{}
}

func (c *cableEnd) Read(p []byte) (int, error) {
	if c.deaf {
		<-c.shut
		return 0, net.ErrClosed
	}
	return c.File.Read(p)
}

func (c *cableEnd) Close() error {
	select {
	case <-c.shut:
	default:
		close(c.shut)
	}
	return nil // the master is the test's to close
}

func (*cableEnd) LocalAddr() net.Addr  { return nil }
func (*cableEnd) RemoteAddr() net.Addr { return nil }

func controllerOnPTY(t *testing.T, master *os.File, deaf bool) *controller {
	end := &cableEnd{File: master, deaf: deaf, shut: make(chan struct{})}
	return startController(t, gomavlib.EndpointCustomClient{Connect: func(context.Context) (net.Conn, error) { return end, nil }}, 0)
}

// Chunks cross a real tty: the port is raw (no newline translation, no echo), 8N1, at the given rate.
func TestSerialPortCarriesChunks(t *testing.T) {
	master, device := openPTY(t)
	c := controllerOnPTY(t, master, false)
	b := &Bridge{Endpoint: "serial:" + device + ":921600"}
	require.NoError(t, b.Initialize())
	defer b.Close()
	require.True(t, b.AwaitLink(deadline), "the controller's heartbeats arrive through the port")
	sent := Chunk{Seq: 7, Stamp: time.Unix(3, 0), Steps: 4, Dims: 7, Values: make([]float32, 28), GripperDim: NoGripper, StepDt: 100 * time.Millisecond}
	// Bytes a cooked tty would change or act on: newline and carriage return (translated), XON/XOFF
	// (flow control), ^C, ^D, ^Z (signals, end of file), DEL; each a finite float32.
	controls := []uint32{0x0a0d1113, 0x03041a7f, 0x7f11130a, 0x0d0a0d0a, 0x1a030411}
	for i := range sent.Values {
		sent.Values[i] = math.Float32frombits(controls[i%len(controls)])
	}
	require.NoError(t, b.Send(sent))
	require.Eventually(t, func() bool { chunks, _ := c.received(); return len(chunks) == 1 }, deadline, poll)
	chunks, _ := c.received()
	require.Equal(t, sent.Values, chunks[0].Values)
}

// A rate termios does not name (250000, some radios' and 3-D printers') is set as a number, as
// go.bug.st/serial set it; a rate no uint32 holds is refused when the port opens, with the reason.
func TestSerialPortTakesANonStandardRate(t *testing.T) {
	_, device := openPTY(t)
	conn, err := openSerial(device, 250000)
	require.NoError(t, err)
	defer conn.Close()
	raw, err := conn.(serialConn).SyscallConn()
	require.NoError(t, err)
	var got *unix.Termios
	var getErr error
	require.NoError(t, raw.Control(func(fd uintptr) { got, getErr = unix.IoctlGetTermios(int(fd), unix.TCGETS2) }))
	require.NoError(t, getErr)
	require.Equal(t, uint32(250000), got.Ospeed)
	require.Equal(t, uint32(unix.BOTHER), got.Cflag&unix.CBAUD)
	require.Zero(t, got.Oflag&unix.OPOST, "raw: no output processing")

	_, err = openSerial(device, 1<<40)
	require.EqualError(t, err, "open serial device "+device+" at 1099511627776 baud: expected a rate from 1 to 2147483647")
}

// A controller that keeps sending heartbeats but stops reading fills the tty's buffer. The bridge's
// writes then time out instead of blocking for good, and Close returns: with go.bug.st/serial's
// blocking write it hung forever (dysl replay --mavlink serial:... never exited).
func TestCloseReturnsWhenTheControllerStopsReading(t *testing.T) {
	master, device := openPTY(t)
	controllerOnPTY(t, master, true)
	b := &Bridge{Endpoint: "serial:" + device + ":57600"}
	require.NoError(t, b.Initialize())
	require.True(t, b.AwaitLink(deadline))
	values := make([]float32, 16*8)
	for i := 0; b.Stats().FramesDropped == 0; i++ {
		require.Less(t, i, 20000, "the tty's buffer never filled")
		require.NoError(t, b.Send(Chunk{Seq: uint32(i), Stamp: time.Unix(1, 0), Steps: 16, Dims: 8, Values: values, GripperDim: NoGripper, StepDt: time.Millisecond}))
		time.Sleep(time.Millisecond)
	}
	// gomavlib's own write timeout would end the write after 10 s; Close must not wait for it.
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5 s: it waits for a write blocked on the port")
	}
}

// Bytes the controller sent before the bridge set the port up sat in the line discipline's queue:
// read then, a 0xfe among them starts a MAVLink v1 frame in the bridge's parser that swallows the
// controller's first frames. Opening the port drops them, and what a cooked line discipline echoed
// and had not yet sent.
func TestOpeningTheSerialPortDropsWhatArrivedBefore(t *testing.T) {
	master, device := openPTY(t)
	_, err := master.Write([]byte("\xfe\x03\x10 heartbeat before the bridge\n"))
	require.NoError(t, err)
	conn, err := openSerial(device, 921600)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	stale, _ := conn.Read(make([]byte, 64))
	require.Zero(t, stale, "bytes from before raw mode read by the bridge")
}
