package modelinput

import (
	"fmt"

	"dysl_vla/policy/bundle"
)

// Tokenize writes the instruction into dst as the tokenizer kind says: "bytes" maps each UTF-8 byte b
// to b+1 (0 is padding), truncated or zero-padded to len(dst). It reports whether the text was
// truncated.
func Tokenize(kind, text string, dst []int64) (truncated bool, err error) {
	if kind != "bytes" {
		return false, fmt.Errorf("tokenizer %q is not supported (expected \"bytes\")", kind)
	}
	for i := range dst {
		dst[i] = 0
		if i < len(text) {
			dst[i] = int64(text[i]) + 1
		}
	}
	return len(text) > len(dst), nil
}

// InstructionTokens converts an instruction into a new token input of n tokens, as the engine does.
func InstructionTokens(tokenizer bundle.Tokenizer, text string, n int) ([]int64, error) {
	dst := make([]int64, n)
	if _, err := Tokenize(tokenizer.Kind, text, dst); err != nil {
		return nil, err
	}
	return dst, nil
}
