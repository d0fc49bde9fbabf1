package nodecore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
)

// A spare frame buffer far larger than the frame it last held is let go, so one burst of large
// frames is not kept for the life of the node; buffers of the size in use are kept for the next
// decodes.
func TestRecycleLetsGoOfBuffersFarLargerThanTheirFrame(t *testing.T) {
	var c Core
	grown := &msgs.Image{Data: make([]byte, 640*480*3, 7680*4320*3)} // 8K once, 640x480 now
	c.recycle(grown)
	require.Empty(t, c.spare)

	vga := &msgs.Image{Data: make([]byte, 640*480*3)}
	big := &msgs.Image{Data: make([]byte, 7680*4320*3)} // the camera's size now: kept
	c.recycle(vga)
	c.recycle(big)
	c.recycle(&msgs.Image{Data: make([]byte, 3)})
	require.Equal(t, []*msgs.Image{vga, big}, c.spare, "two spares at most")
}
