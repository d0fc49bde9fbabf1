package bundle_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"dysl_vla/policy/bundle"
)

func TestTranslationDimsFindsEitherNaming(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  []int
	}{
		{[]string{"x", "y", "z", "roll", "pitch", "yaw", "gripper"}, []int{0, 1, 2}},
		{[]string{"gripper", "dz", "dy", "dx"}, []int{3, 2, 1}},
		{[]string{"x", "y", "gripper"}, nil},
		{[]string{"x", "dy", "z"}, nil},
		{nil, nil},
	} {
		require.Equal(t, tc.want, bundle.ActionSpec{Names: tc.names}.TranslationDims(), "%v", tc.names)
	}
}
