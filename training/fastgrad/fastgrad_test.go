package fastgrad

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
)

// TestGradientMatchesStock compares the fast gradient with GoMLX's own on the axis layouts the
// model uses and on awkward ones (several free axes, permuted contracting axes).
func TestGradientMatchesStock(t *testing.T) {
	// ops_sequential as training.NewBackend: the parallel executor of simplego v0.26.0 races (see there).
	backend, err := simplego.New("parallelism=-1,ops_sequential")
	require.NoError(t, err)
	cases := []struct {
		name                  string
		lhsDims, rhsDims      []int
		lhsContract, lhsBatch []int
		rhsContract, rhsBatch []int
	}{
		{"matmul [B,T,D]x[D,F]", []int{2, 3, 4}, []int{4, 5}, []int{2}, nil, []int{0}, nil},
		{"batched attention scores", []int{2, 3, 5, 4}, []int{2, 3, 6, 4}, []int{3}, []int{0, 1}, []int{3}, []int{0, 1}},
		{"two free axes on both sides", []int{3, 2, 4}, []int{4, 5, 2}, []int{2}, nil, []int{0}, nil},
		{"permuted contracting axes", []int{3, 4, 2}, []int{2, 5, 3}, []int{0, 2}, nil, []int{2, 0}, nil},
		{"batch axis not first", []int{4, 2, 3}, []int{3, 2, 5}, []int{2}, []int{1}, []int{0}, []int{1}},
	}
	r := rand.New(rand.NewPCG(1, 2))
	random := func(dims []int) *tensors.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(r.NormFloat64())
		}
		return tensors.FromFlatDataAndDimensions(data, dims...)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lhs, rhs := random(c.lhsDims), random(c.rhsDims)
			gradients := func() [][]float32 {
				exec, err := NewExec(backend, func(l, r *Node) (*Node, *Node) {
					out := DotGeneral(l, c.lhsContract, c.lhsBatch, r, c.rhsContract, c.rhsBatch)
					// A non-uniform weight so that every output element's gradient differs.
					weights := Sin(IotaFull(out.Graph(), out.Shape()))
					grads := Gradient(ReduceAllSum(Mul(out, weights)), l, r)
					return grads[0], grads[1]
				})
				require.NoError(t, err)
				outs, err := exec.Exec(lhs, rhs)
				require.NoError(t, err)
				return [][]float32{tensors.MustCopyFlatData[float32](outs[0]), tensors.MustCopyFlatData[float32](outs[1])}
			}
			stock := VJPRegistration[NodeTypeDotGeneral]
			want := gradients()
			VJPRegistration[NodeTypeDotGeneral] = fastVJP
			got := gradients()
			VJPRegistration[NodeTypeDotGeneral] = stock
			for k := range want {
				require.InDeltaSlice(t, want[k], got[k], 1e-4, "gradient of operand %d", k)
			}
		})
	}
}
