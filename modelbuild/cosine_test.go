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

// Similarities a few last bits apart, as amd64 and arm64 compute them, choose the same static layers:
// the tie goes to the earlier layer on both.
func TestChooseStaticIgnoresTheLastBits(t *testing.T) {
	for _, sim := range [][]float64{
		{math.Nextafter(0.8, 1), 0.8, 0.9, 1},
		{0.8, math.Nextafter(0.8, 1), 0.9, 1},
	} {
		if got := ChooseStatic(sim, 0.5); len(got) != 2 || got[0] != 0 || got[1] != 3 {
			t.Fatalf("ChooseStatic(%v) = %v, want [0 3]", sim, got)
		}
	}
	if got := ChooseStatic([]float64{0.8, 0.8 - 1e-6, 0.9, 1}, 0.5); got[0] != 1 {
		t.Fatalf("a real difference still decides: got %v, want [1 3]", got)
	}
}
