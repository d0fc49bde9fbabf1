package mavbridge

import (
	"bufio"
	"io"
	"testing"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/streamwriter"
	"github.com/stretchr/testify/require"

	bridgedialect "dysl_vla/mavbridge/dialect"
)

// frameDialect reads and writes raw frames of the bridge's dialect, for peers that are not gomavlib nodes.
type frameDialect struct{}

func (frameDialect) readWriter(t *testing.T) *dialect.ReadWriter {
	rw := &dialect.ReadWriter{Dialect: bridgedialect.Dialect}
	require.NoError(t, rw.Initialize())
	return rw
}

func (d frameDialect) streamWriter(t *testing.T, w io.Writer) *streamwriter.Writer {
	fw := &frame.Writer{ByteWriter: w, DialectRW: d.readWriter(t)}
	require.NoError(t, fw.Initialize())
	sw := &streamwriter.Writer{FrameWriter: fw, Version: streamwriter.V2, SystemID: 1, ComponentID: 1}
	require.NoError(t, sw.Initialize())
	return sw
}

func (d frameDialect) frameReader(t *testing.T, r io.Reader) *frame.Reader {
	fr := &frame.Reader{BufByteReader: bufio.NewReader(r), DialectRW: d.readWriter(t)}
	require.NoError(t, fr.Initialize())
	return fr
}
