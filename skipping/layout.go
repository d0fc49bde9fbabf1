package skipping

import (
	"fmt"
	"strings"
)

// Segment is a run of dynamic layers closed by a static layer: the dynamic layers First..Static-1 may be
// skipped, Static always runs. First == Static means the segment has no dynamic layer.
type Segment struct {
	First  int // first dynamic layer of the segment
	Static int // the static layer that closes it
}

// Dynamic is the number of dynamic layers in the segment.
func (s Segment) Dynamic() int { return s.Static - s.First }

// Layout is the static/dynamic split of a decoder stack. It is fixed for a bundle.
type Layout struct {
	Layers   int
	Static   []int
	Segments []Segment
	// segmentOf[j] is the index of the segment layer j belongs to (a static layer belongs to the segment
	// it closes).
	segmentOf []int
}

// NewLayout checks the static layer list (ascending, unique, in range, containing the last layer) and
// derives the segments.
func NewLayout(layers int, static []int) (Layout, error) {
	if layers <= 0 {
		return Layout{}, fmt.Errorf("skipping: layout: layers must be > 0, got %d", layers)
	}
	if len(static) == 0 {
		return Layout{}, fmt.Errorf("skipping: layout: static layers must not be empty (the last layer, %d, is always static)", layers-1)
	}
	var problems []string
	for i, s := range static {
		if s < 0 || s >= layers {
			problems = append(problems, fmt.Sprintf("static layer %d out of range [0, %d]", s, layers-1))
		}
		if i > 0 && s <= static[i-1] {
			problems = append(problems, fmt.Sprintf("static layers must be strictly ascending: %d after %d", s, static[i-1]))
		}
	}
	if static[len(static)-1] != layers-1 {
		problems = append(problems, fmt.Sprintf("static layers must contain the last layer %d", layers-1))
	}
	if len(problems) > 0 {
		return Layout{}, fmt.Errorf("skipping: layout: %s", strings.Join(problems, "; "))
	}
	l := Layout{Layers: layers, Static: append([]int(nil), static...), segmentOf: make([]int, layers)}
	first := 0
	for i, s := range static {
		l.Segments = append(l.Segments, Segment{First: first, Static: s})
		for j := first; j <= s; j++ {
			l.segmentOf[j] = i
		}
		first = s + 1
	}
	return l, nil
}

// SegmentOf returns the segment layer j belongs to.
func (l Layout) SegmentOf(j int) Segment { return l.Segments[l.segmentOf[j]] }

// IsStatic reports whether layer j is static.
func (l Layout) IsStatic(j int) bool { return l.SegmentOf(j).Static == j }

// DynamicLayers is the number of dynamic layers in the stack.
func (l Layout) DynamicLayers() int { return l.Layers - len(l.Static) }

// DynamicLayerList lists the dynamic layers in order.
func (l Layout) DynamicLayerList() []int {
	var out []int
	for _, s := range l.Segments {
		for j := s.First; j < s.Static; j++ {
			out = append(out, j)
		}
	}
	return out
}
