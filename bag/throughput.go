package bag

import (
	"fmt"
	"time"
)

// Throughput is how fast a bag reads and decodes.
type Throughput struct {
	Messages int           // messages read
	Frames   int           // camera frames decoded
	Bytes    int64         // CDR bytes read
	Elapsed  time.Duration // wall time of the whole pass, opening included
}

// FramesPerSecond is the rate of images read and decoded: compare it with the model's inference
// rate to see that replay is model-bound, not bag-bound.
func (t Throughput) FramesPerSecond() float64 { return perSecond(t.Frames, t.Elapsed) }

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// FrameDecoders decode the serialized camera frames of a bag by ROS type, as its reader would
// (sensor_msgs/msg/Image, and sensor_msgs/msg/CompressedImage down to its pixels), each into a value it
// reuses.
type FrameDecoders map[string]func(data []byte) error

// MeasureDecodeThroughput reads the whole bag at path, decoding every message of a type decode has a
// decoder for, and reports the rates. A decode or storage error ends the pass and is returned with
// what was measured up to it.
func MeasureDecodeThroughput(path string, decode FrameDecoders) (Throughput, error) {
	began := time.Now()
	var t Throughput
	r, err := Open(path)
	if err != nil {
		return t, err
	}
	defer r.Close()
	for m, err := range r.Messages() {
		if err != nil {
			t.Elapsed = time.Since(began)
			return t, err
		}
		t.Messages++
		t.Bytes += int64(len(m.Data))
		frame := decode[m.Type]
		if frame == nil || m.Damaged != nil {
			continue
		}
		if err := frame(m.Data); err != nil {
			t.Elapsed = time.Since(began)
			return t, fmt.Errorf("%s: image at %d: %w", m.Topic, m.LogTime, err)
		}
		t.Frames++
	}
	t.Elapsed = time.Since(began)
	return t, nil
}
