package modelbuild

import (
	"math"
	"testing"
)

// cosine rounds each product before adding it, on every architecture: the static layers chosen on
// the Jetson (arm64, where Go may fuse a multiply-add) must be those chosen here. The values are
// such that a fused multiply-add gives another sum; run under qemu-aarch64 this fails without the
// rounding (GOARCH=arm64 go test -exec qemu-aarch64, docs/notes/arm64.md).
func TestCosineRoundsEachProduct(t *testing.T) {
	// (1+2⁻³⁰)² = 1 + 2⁻²⁹ + 2⁻⁶⁰: rounded, it cancels the first product exactly; fused, 2⁻⁶⁰ is left.
	x := []float64{-1, 1 + 0x1p-30}
	y := []float64{1 + 0x1p-29, 1 + 0x1p-30}
	var xy, xx, yy float64
	for i := range x {
		p, q, r := x[i]*y[i], x[i]*x[i], y[i]*y[i]
		xy, xx, yy = xy+float64(p), xx+float64(q), yy+float64(r)
	}
	want := xy / math.Sqrt(xx*yy)
	if got := cosine(x, y); got != want {
		t.Fatalf("cosine = %.20g, want %.20g (each product rounded)", got, want)
	}
}
