package mavbridge

import (
	"fmt"
	"math"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// The serial port is opened here (Linux termios) rather than through go.bug.st/serial, whose Write
// is a plain blocking write(2) with no timeout: a controller that keeps sending heartbeats but stops
// reading (a busy USB CDC-ACM firmware) fills the tty's buffer, the write blocks for good, gomavlib's
// write timeout never applies, and closing the bridge hangs on it (closing the descriptor does not
// wake a blocked tty write). Opened non-blocking, the port goes through Go's poller: deadlines work as
// on a socket, gomavlib times the write out, closes the channel and reconnects, and closing the port
// wakes any read or write in progress. (gomavlib's own serial endpoint uses go.bug.st/serial too, so
// the module still lists it.)

// serialConn lets the port stand where gomavlib expects a net.Conn; os.File supplies Read, Write,
// Close and the deadlines.
type serialConn struct{ *os.File }

func (serialConn) LocalAddr() net.Addr  { return nil }
func (serialConn) RemoteAddr() net.Addr { return nil }

// baudRates are the speeds termios names on Linux, the usual MAVLink ones among them; any other is
// set as a number (BOTHER), as go.bug.st/serial does, for the drivers that take it.
var baudRates = map[int]uint32{
	1200: unix.B1200, 2400: unix.B2400, 4800: unix.B4800, 9600: unix.B9600, 19200: unix.B19200,
	38400: unix.B38400, 57600: unix.B57600, 115200: unix.B115200, 230400: unix.B230400,
	460800: unix.B460800, 500000: unix.B500000, 576000: unix.B576000, 921600: unix.B921600,
	1000000: unix.B1000000, 1152000: unix.B1152000, 1500000: unix.B1500000, 2000000: unix.B2000000,
	2500000: unix.B2500000, 3000000: unix.B3000000, 3500000: unix.B3500000, 4000000: unix.B4000000,
}

// openSerial opens device raw, 8N1, at baud, for this process alone (TIOCEXCL, as go.bug.st/serial
// does), without making it the controlling terminal.
func openSerial(device string, baud int) (net.Conn, error) {
	if baud <= 0 || baud > math.MaxInt32 {
		return nil, fmt.Errorf("open serial device %s at %d baud: expected a rate from 1 to %d", device, baud, math.MaxInt32)
	}
	f, err := os.OpenFile(device, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open serial device %s at %d baud: %w", device, baud, unwrapPathError(err))
	}
	raw, err := f.SyscallConn() // Fd() would turn the descriptor back to blocking
	if err == nil {
		var setErr error
		err = raw.Control(func(fd uintptr) { setErr = configureRaw(int(fd), baud) })
		if err == nil {
			err = setErr
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open serial device %s at %d baud: %w", device, baud, err)
	}
	return serialConn{f}, nil
}

// configureRaw sets fd to raw mode (cfmakeraw) at baud, 8 data bits, no parity, one stop bit, no flow
// control, receiver on, modem lines ignored, and takes it for this process alone. termios2 (TCSETS2)
// carries the rate as a number, which a rate outside baudRates needs.
func configureRaw(fd int, baud int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS2)
	if err != nil {
		return fmt.Errorf("not a serial port (reading its settings): %w", err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF | unix.IXANY
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CSTOPB | unix.CRTSCTS | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
	if code, ok := baudRates[baud]; ok {
		t.Cflag |= code
	} else {
		t.Cflag |= unix.BOTHER
	}
	t.Ispeed, t.Ospeed = uint32(baud), uint32(baud)
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS2, t); err != nil {
		return fmt.Errorf("setting raw mode at %d baud: %w", baud, err)
	}
	// What arrived before raw mode went through the cooked line discipline, which echoed it back to
	// the controller ("^C" for each 0x03): a 0xfe among the echoes made the controller's parser take
	// the next 253 bytes, the bridge's first frames, for one broken frame. Both are dropped.
	if err := unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIOFLUSH); err != nil {
		return fmt.Errorf("flushing what arrived before raw mode: %w", err)
	}
	if err := unix.IoctlSetInt(fd, unix.TIOCEXCL, 0); err != nil {
		return fmt.Errorf("taking it for this process alone: %w", err)
	}
	return nil
}

// unwrapPathError keeps the reason of an open error: the message already names the device.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
