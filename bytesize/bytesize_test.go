package bytesize

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Whole bytes below a kibibyte, else one decimal in the largest unit reached.
func TestFormat(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB",
		1 << 40: "1.0 TiB", ^uint64(0): "16.0 EiB",
	} {
		require.Equal(t, want, Format(n), "%d bytes", n)
	}
}
