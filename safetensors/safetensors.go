// Package safetensors reads and writes the safetensors format (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the end of the header) plus an
// optional "__metadata__" string map, then the raw little-endian tensor bytes.
//
// Only what the model bundle tools exchange is supported: F32 tensors for writing, F32/F64/I64 for
// reading. Files are read whole into memory.
package safetensors

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"

	"github.com/google/renameio/v2"
)

// Tensor is one named tensor of a file.
type Tensor struct {
	DType string // "F32", "F64", "I64", ...
	Shape []int64
	Data  []byte // little-endian, row-major
}

// File is a decoded safetensors file.
type File struct {
	Tensors  map[string]Tensor
	Metadata map[string]string
}

// headerEntry is one tensor's JSON header record.
type headerEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// maxHeader bounds the JSON header so a corrupt length cannot make us allocate gigabytes.
const maxHeader = 100 << 20

var dtypeSize = map[string]int64{"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "I16": 2, "U8": 1, "I8": 1, "BOOL": 1}

// ReadFile reads and decodes a safetensors file.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	return f, nil
}

// Decode parses a whole safetensors file held in memory. Tensor data aliases data.
func Decode(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("file is %d bytes, shorter than the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > maxHeader || n > uint64(len(data)-8) {
		return nil, fmt.Errorf("header length %d does not fit in a %d-byte file", n, len(data))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &raw); err != nil {
		return nil, fmt.Errorf("header is not a JSON object: %w", err)
	}
	body := data[8+n:]
	f := &File{Tensors: map[string]Tensor{}, Metadata: map[string]string{}}
	var spans []span
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("__metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: bad header entry: %w", name, err)
		}
		size, ok := dtypeSize[e.DType]
		if !ok {
			return nil, fmt.Errorf("tensor %q: unknown dtype %q", name, e.DType)
		}
		count := int64(1)
		for _, d := range e.Shape {
			if d < 0 {
				return nil, fmt.Errorf("tensor %q: negative dimension in shape %v", name, e.Shape)
			}
			// The product must not wrap: shape [2^62, 4] would come to 0 elements and pass as empty.
			if d > 0 && count > math.MaxInt64/size/d {
				return nil, fmt.Errorf("tensor %q: shape %v holds more bytes than a file can", name, e.Shape)
			}
			count *= d
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin < 0 || end < begin || end > int64(len(body)) {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] outside the %d data bytes", name, begin, end, len(body))
		}
		if end-begin != count*size {
			return nil, fmt.Errorf("tensor %q: %s %v needs %d bytes, data_offsets give %d", name, e.DType, e.Shape, count*size, end-begin)
		}
		f.Tensors[name] = Tensor{DType: e.DType, Shape: e.Shape, Data: body[begin:end]}
		spans = append(spans, span{name, begin, end})
	}
	if err := checkSpans(spans, int64(len(body))); err != nil {
		return nil, err
	}
	return f, nil
}

// span is where a tensor's data lies in the data section.
type span struct {
	name       string
	begin, end int64
}

// checkSpans requires the tensors' data to follow one another without overlap or gap and to fill the
// data section, as the format's reference implementation does: two tensors sharing bytes, or bytes no
// tensor owns, mean a file damaged or not what its header says.
func checkSpans(spans []span, size int64) error {
	slices.SortFunc(spans, func(a, b span) int { return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end)) })
	at := int64(0)
	for _, s := range spans {
		if s.begin != at {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] start at byte %d, expected %d: the tensors' data must follow one another without overlap or gap",
				s.name, s.begin, s.end, s.begin, at)
		}
		at = s.end
	}
	if at != size {
		return fmt.Errorf("the tensors' data ends at byte %d of a %d-byte data section: expected the tensors to fill it", at, size)
	}
	return nil
}

// Float32s returns the tensor's values as float32, converting from F64. Other dtypes are an error.
func (t Tensor) Float32s() ([]float32, error) {
	switch t.DType {
	case "F32":
		out := make([]float32, len(t.Data)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
		return out, nil
	case "F64":
		out := make([]float32, len(t.Data)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:])))
		}
		return out, nil
	}
	return nil, fmt.Errorf("dtype %s cannot be read as float32 (want F32 or F64)", t.DType)
}

// F32 makes an F32 tensor from values and a shape.
func F32(shape []int64, values []float32) Tensor {
	data := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	return Tensor{DType: "F32", Shape: shape, Data: data}
}

// Encode serializes tensors (written in name order, so output is deterministic) and metadata.
func Encode(tensors map[string]Tensor, metadata map[string]string) ([]byte, error) {
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		if name == "__metadata__" {
			return nil, fmt.Errorf("safetensors: %q is reserved and cannot name a tensor", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var offset int64
	for _, name := range names {
		t := tensors[name]
		header[name] = headerEntry{DType: t.DType, Shape: t.Shape, DataOffsets: [2]int64{offset, offset + int64(len(t.Data))}}
		offset += int64(len(t.Data))
	}
	js, err := json.Marshal(header)
	if err != nil {
		return nil, err
	}
	// Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
	for (8+len(js))%8 != 0 {
		js = append(js, ' ')
	}
	out := make([]byte, 8, 8+int64(len(js))+offset)
	binary.LittleEndian.PutUint64(out, uint64(len(js)))
	out = append(out, js...)
	for _, name := range names {
		out = append(out, tensors[name].Data...)
	}
	return out, nil
}

// WriteFile encodes tensors and metadata into path. The file is replaced whole, in one rename: weights
// that took hours to train are never left half written over the last good ones.
func WriteFile(path string, tensors map[string]Tensor, metadata map[string]string) error {
	data, err := Encode(tensors, metadata)
	if err != nil {
		return err
	}
	return renameio.WriteFile(path, data, 0o644)
}
