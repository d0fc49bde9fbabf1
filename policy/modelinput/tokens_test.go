package modelinput

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTokenizeBytes(t *testing.T) {
	dst := make([]int64, 4)
	trunc, err := Tokenize("bytes", "ab", dst)
	require.NoError(t, err)
	require.False(t, trunc)
	require.Equal(t, []int64{'a' + 1, 'b' + 1, 0, 0}, dst)
	// An instruction of exactly the token count fits whole: nothing was cut.
	trunc, err = Tokenize("bytes", "abcd", dst)
	require.NoError(t, err)
	require.False(t, trunc)
	require.Equal(t, []int64{'a' + 1, 'b' + 1, 'c' + 1, 'd' + 1}, dst)
	trunc, err = Tokenize("bytes", "abcdef", dst)
	require.NoError(t, err)
	require.True(t, trunc)
	_, err = Tokenize("sentencepiece", "x", dst)
	require.ErrorContains(t, err, `tokenizer "sentencepiece" is not supported`)
}
