package nodecore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/msgs"
	"dysl_vla/policy/bundle"
)

// A spare frame buffer far larger than the frame it last held is let go, so one burst of large
// frames is not kept for the life of the node; buffers of the size in use are kept for the next
// decodes.
func TestRecycleLetsGoOfBuffersFarLargerThanTheirFrame(t *testing.T) {
	var c Core
	grown := &frame{image: msgs.Image{Data: make([]byte, 640*480*3, 7680*4320*3)}} // 8K once, 640x480 now
	c.recycle(grown)
	require.Empty(t, c.spare)
	// A compressed frame's data is held too: one burst of huge PNGs is let go as well.
	grownFile := &frame{compressed: msgs.CompressedImage{Data: make([]byte, 30<<10, 40<<20)}, isCompressed: true}
	c.recycle(grownFile)
	require.Empty(t, c.spare)

	vga := &frame{image: msgs.Image{Data: make([]byte, 640*480*3)}}
	big := &frame{image: msgs.Image{Data: make([]byte, 7680*4320*3)}} // the camera's size now: kept
	c.recycle(vga)
	c.recycle(big)
	c.recycle(&frame{image: msgs.Image{Data: make([]byte, 3)}})
	require.Equal(t, []*frame{vga, big}, c.spare, "two spares at most")
}

// The JointState decode buffer grown by a message refused for its size is let go, so one hostile
// message is not held for the life of the node; buffers of a robot's size are kept.
func TestJointStateBuffersPastMaxJointsAreLetGo(t *testing.T) {
	c := &Core{cfg: Config{Sink: discard{}}, state: newStateSlot(&bundle.StateSpec{Names: []string{"ee_z"}})}
	encode := func(js *msgs.JointState) []byte {
		raw, err := msgs.Encode(nil, js)
		require.NoError(t, err)
		return raw
	}
	require.True(t, c.OfferSerializedState(StateTopic, encode(&msgs.JointState{Name: []string{"ee_z"}, Position: []float64{1}})))
	require.Equal(t, 1, cap(c.jointState.Name), "a robot's size: kept for the next decode")

	require.False(t, c.OfferSerializedState(StateTopic, encode(&msgs.JointState{Name: make([]string, MaxJoints+1)})))
	require.Zero(t, cap(c.jointState.Name))
	require.False(t, c.OfferSerializedState(StateTopic, encode(&msgs.JointState{Effort: make([]float64, 10*MaxJoints)})))
	require.Zero(t, cap(c.jointState.Effort))
}

// discard is a Sink that keeps nothing.
type discard struct{}

func (discard) PublishActionChunk(*msgs.ActionChunk)     {}
func (discard) PublishSkipStats(*msgs.SkipStats)         {}
func (discard) PublishDiagnostics(*msgs.DiagnosticArray) {}
func (discard) Notice(Event)                             {}
