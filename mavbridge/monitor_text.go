package mavbridge

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// PrintReceived writes what arrives on received, one line per heartbeat, gripper command or malformed
// frame and a line per step of each chunk, until chunks chunks have been written (chunks 0: until ctx
// ends or received closes). `dysl mavlink listen` is this over a Monitor's Received channel.
func PrintReceived(ctx context.Context, w io.Writer, received <-chan Received, chunks int) error {
	written := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case r, ok := <-received:
			if !ok {
				return nil
			}
			if _, err := io.WriteString(w, FormatReceived(r)); err != nil {
				return err
			}
			if _, isChunk := r.(ReceivedChunk); isChunk {
				written++
				if chunks > 0 && written >= chunks {
					return nil
				}
			}
		}
	}
}

// FormatReceived is r as PrintReceived writes it: its lines, each ending in a newline.
func FormatReceived(r Received) string {
	var b strings.Builder
	switch r := r.(type) {
	case ReceivedHeartbeat:
		fmt.Fprintf(&b, "heartbeat sys=%d comp=%d type=%s\n", r.SystemID, r.ComponentID, r.Type)
	case ReceivedConnectFailed:
		b.WriteString(openFailure(r.Endpoint, r.Err) + "\n")
	case ReceivedChannelRefused:
		fmt.Fprintf(&b, "%v\n", EventChannelRefused(r))
	case ReceivedChannelEvicted:
		fmt.Fprintf(&b, "%v\n", EventChannelEvicted(r))
	case ReceivedChunk:
		c := r.Chunk
		fmt.Fprintf(&b, "chunk seq=%d stamp=%s dt=%v frame=%q steps=%d dims=%d%s\n",
			c.Seq, c.Stamp.UTC().Format(time.RFC3339Nano), c.StepDt, c.Frame, c.Steps, c.Dims, forOthers(r.ForOthers, r.Target))
		for step := range c.Steps {
			fmt.Fprintf(&b, "  [%d]", step)
			for _, v := range c.Values[step*c.Dims : (step+1)*c.Dims] {
				fmt.Fprintf(&b, " %.4f", v)
			}
			b.WriteByte('\n')
		}
	case ReceivedGripper:
		acked := ""
		if r.Acked {
			acked = " acked"
		}
		fmt.Fprintf(&b, "gripper %v instance=%d confirmation=%d from sys=%d comp=%d%s%s\n",
			r.Action, r.Instance, r.Confirmation, r.SystemID, r.ComponentID, acked, forOthers(r.ForOthers, r.Target))
	case ReceivedMalformed:
		fmt.Fprintf(&b, "malformed: %v", r.Err)
		if r.Malformed > 1 {
			fmt.Fprintf(&b, " (%d malformed frames since the previous report)", r.Malformed)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// forOthers marks a line of a message addressed to other ids than the monitor's, which a controller
// speaking as the monitor would ignore.
func forOthers(others bool, t Target) string {
	if !others {
		return ""
	}
	return fmt.Sprintf(" (addressed to sys=%d comp=%d, not to this listener: a controller with its ids ignores it)", t.System, t.Component)
}
