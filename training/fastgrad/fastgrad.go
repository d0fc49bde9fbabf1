// Package fastgrad replaces GoMLX v0.26.0's gradient of DotGeneral with one made of two DotGenerals
// and a transpose.
//
// Why: the stock gradient (graph.dotGeneralVJP) multiplies the output gradient by a broadcast of the
// other operand and then sums, materialising an outer-product tensor; on the pure-Go backend that
// made a training step about 14 times slower (docs/notes/gomlx.md, pitfall 1). Upstream fixed it
// after v0.26.0 (gomlx/gomlx#428), but no release with the fix is available, so Install overrides
// the entry in graph.VJPRegistration, an exported map meant for registering gradients.
//
// The axes of a DotGeneral node are unexported fields of GoMLX's node parameters; they are read with
// reflect. If a GoMLX upgrade renames them, Install panics at start-up rather than computing wrong
// gradients, and the package test compares against the stock gradient.
package fastgrad

import (
	"fmt"
	"reflect"
	"sort"
	"sync"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX's graph DSL is meant to be dot-imported
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

var once sync.Once

// Install registers the fast DotGeneral gradient. It is idempotent and must be called before any
// gradient graph is built (training code calls it when it creates its backend).
func Install() {
	once.Do(func() { VJPRegistration[NodeTypeDotGeneral] = fastVJP })
}

func fastVJP(node *Node, vjps []*Node, _ shapes.Shape) []*Node {
	return dotGeneralGradient(node, vjps[0])
}

// dotAxes are the axes a DotGeneral node was built with.
type dotAxes struct {
	lhsContracting, lhsBatch, rhsContracting, rhsBatch []int
}

// readAxes reads the unexported axis fields of a DotGeneral node's parameters.
func readAxes(node *Node) dotAxes {
	params := reflect.ValueOf(node).Elem().FieldByName("inputs")
	if !params.IsValid() || params.IsNil() {
		panic("fastgrad: graph.Node has no 'inputs' field; GoMLX changed, update fastgrad")
	}
	fields := params.Elem().Elem()
	ints := func(name string) []int {
		f := fields.FieldByName(name)
		if !f.IsValid() {
			panic(fmt.Sprintf("fastgrad: DotGeneral parameters have no field %q; GoMLX changed, update fastgrad", name))
		}
		out := make([]int, f.Len())
		for i := range out {
			out[i] = int(f.Index(i).Int())
		}
		return out
	}
	return dotAxes{
		lhsContracting: ints("lhsContractingAxes"), lhsBatch: ints("lhsBatchAxes"),
		rhsContracting: ints("rhsContractingAxes"), rhsBatch: ints("rhsBatchAxes"),
	}
}

// freeAxes are the axes of an operand of rank `rank` that are neither contracted nor batch, ascending:
// the order in which DotGeneral lays them out in its output.
func freeAxes(rank int, contracting, batch []int) []int {
	used := make([]bool, rank)
	for _, a := range contracting {
		used[a] = true
	}
	for _, a := range batch {
		used[a] = true
	}
	var free []int
	for a := 0; a < rank; a++ {
		if !used[a] {
			free = append(free, a)
		}
	}
	return free
}

// dotGeneralGradient returns the gradients of both operands of node, given v = dLoss/dOutput.
//
// The output of DotGeneral is laid out [batch..., lhs free..., rhs free...]. The gradient of one
// operand ("this") is v contracted with the other operand over the other's free axes, batched over
// the batch axes; the result is laid out [batch..., this free..., other contracting axes in the
// other's axis order], and a transpose puts each axis back where it is in "this".
func dotGeneralGradient(node, v *Node) []*Node {
	ax := readAxes(node)
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	lhsFree := freeAxes(lhs.Rank(), ax.lhsContracting, ax.lhsBatch)
	rhsFree := freeAxes(rhs.Rank(), ax.rhsContracting, ax.rhsBatch)
	nBatch := len(ax.lhsBatch)
	vBatch := iota(0, nBatch)
	vLhsFree := iota(nBatch, len(lhsFree))
	vRhsFree := iota(nBatch+len(lhsFree), len(rhsFree))

	gradient := func(this *Node, thisBatch, thisFree, thisContracting []int, vFree []int,
		other *Node, otherBatch, otherFree, otherContracting []int) *Node {
		g := DotGeneral(v, vFree, vBatch, other, otherFree, otherBatch)
		// g axes: batch (in thisBatch order), this free (ascending), then the other's contracting
		// axes in ascending order of the other's axis index, each paired with thisContracting[k].
		pairs := make([]int, len(otherContracting))
		for k := range pairs {
			pairs[k] = k
		}
		sort.Slice(pairs, func(a, b int) bool { return otherContracting[pairs[a]] < otherContracting[pairs[b]] })
		sourceOf := make([]int, this.Rank()) // sourceOf[axis of this] = axis of g
		for i, a := range thisBatch {
			sourceOf[a] = i
		}
		for i, a := range thisFree {
			sourceOf[a] = nBatch + i
		}
		for i, k := range pairs {
			sourceOf[thisContracting[k]] = nBatch + len(thisFree) + i
		}
		identity := true
		for a, s := range sourceOf {
			identity = identity && a == s
		}
		if identity {
			return g
		}
		return TransposeAllAxes(g, sourceOf...)
	}
	return []*Node{
		gradient(lhs, ax.lhsBatch, lhsFree, ax.lhsContracting, vRhsFree, rhs, ax.rhsBatch, rhsFree, ax.rhsContracting),
		gradient(rhs, ax.rhsBatch, rhsFree, ax.rhsContracting, vLhsFree, lhs, ax.lhsBatch, lhsFree, ax.lhsContracting),
	}
}

func iota(start, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + i
	}
	return out
}
