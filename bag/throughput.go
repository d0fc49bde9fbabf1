package bag

import (
	"context"
	"time"
)

// Throughput is how fast a bag reads and decodes.
type Throughput struct {
	Messages  int           // messages read
	Frames    int           // camera frames decoded
	BadFrames int           // camera frames that did not decode
	Bytes     int64         // CDR bytes read
	Elapsed   time.Duration // wall time of the whole pass, opening included
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

// MeasureDecodeThroughput reads the bag at path, decoding every frame of its camera topic with decode
// as its reader would (a sensor_msgs/msg/Image, or a CompressedImage down to its pixels), and reports
// the rates: over the whole bag, or up to maxFrames camera frames when that is above 0 (a JPEG takes
// milliseconds: an hour of them would take minutes more). A frame that does not decode is counted in
// BadFrames, as a reader passes over it; a storage error, or ctx done, ends the pass and is returned
// with what was measured up to it.
func MeasureDecodeThroughput(ctx context.Context, path, camera string, decode func(data []byte) error, maxFrames int) (Throughput, error) {
	began := time.Now()
	var t Throughput
	r, err := Open(path)
	if err != nil {
		return t, err
	}
	defer r.Close()
	for m, err := range r.Messages() {
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			t.Elapsed = time.Since(began)
			return t, err
		}
		if maxFrames > 0 && t.Frames+t.BadFrames >= maxFrames {
			break
		}
		t.Messages++
		t.Bytes += int64(len(m.Data))
		if m.Topic != camera || m.Damaged != nil {
			continue
		}
		if err := decode(m.Data); err != nil {
			t.BadFrames++
			continue
		}
		t.Frames++
	}
	t.Elapsed = time.Since(began)
	return t, nil
}
