// Package percentile is the one quantile every report of dysl_vla prints: the nearest rank, a
// value that occurred (the node's latency diagnostics, the benchmarks, bag replay and the closed-loop
// evaluation). Written here rather than taken from gonum's stat.Quantile (the same rule with
// stat.Empirical) because the latency reports keep time.Duration, and gonum's works on float64 only.
package percentile

import (
	"cmp"
	"math"
	"slices"
)

// Sorted returns the nearest-rank p-quantile of sorted, an ascending, non-empty slice: the smallest
// value with at least a fraction p of the values at or below it. p at or below 0 gives the first
// value, p at or above 1 the last.
func Sorted[T cmp.Ordered](sorted []T, p float64) T {
	rank := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// Of returns the nearest-rank p-quantile of v, which it leaves unsorted; the zero value when v is
// empty.
func Of[T cmp.Ordered](v []T, p float64) T {
	if len(v) == 0 {
		var zero T
		return zero
	}
	sorted := slices.Clone(v)
	slices.Sort(sorted)
	return Sorted(sorted, p)
}
