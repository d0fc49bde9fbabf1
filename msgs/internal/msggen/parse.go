package msggen

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Interface is one message type read from a .msg file or one half of a
// .srv file.
type Interface struct {
	Package   string // e.g. "sensor_msgs"
	Namespace string // "msg" or "srv"
	Name      string // e.g. "Image", "GetState_Request"
	// Text is the definition as the file has it (for a service, its half),
	// which is what a ros2msg schema carries.
	Text      string
	Fields    []Field
	Constants []Constant
	// Fixture marks a type that exists only to test the generator; its
	// code goes into _test.go files and not into the registry.
	Fixture bool
}

// FullName is the ROS type name, e.g. "sensor_msgs/msg/Image".
func (it *Interface) FullName() string { return it.Package + "/" + it.Namespace + "/" + it.Name }

// Field is one field line.
type Field struct {
	Name string
	Type FieldType
	// Default is the default value as written, or "". rosidl applies it when
	// a language constructs a message; it never reaches the wire, so the
	// codecs ignore it, and the field's Go doc names one that the zero value
	// does not give.
	Default string
}

// Collection says whether a field holds one value or several.
type Collection int

const (
	Single   Collection = iota
	Array               // T[N]: exactly N elements, no count on the wire
	Sequence            // T[]: a count, then the elements
	Bounded             // T[<=N]: a sequence of at most N elements
)

// FieldType is the type of a field.
type FieldType struct {
	// Primitive is the ROS primitive ("uint8", "string", ...), or "" for a
	// nested message.
	Primitive string
	// Package and Message name a nested message; Package is filled in with
	// the enclosing package when the file leaves it out.
	Package, Message string
	// Written is the element type as the file spells it without its bounds,
	// e.g. "std_msgs/Header" or "KeyValue": rosbag2 names the dependency
	// sections of a schema by it (qualified with the package when bare).
	Written string
	// StringBound is N of string<=N, or 0.
	StringBound int
	Collection  Collection
	// Size is N of T[N] or T[<=N].
	Size int
}

// Constant is one constant line, e.g. "byte OK=0".
type Constant struct {
	Type  string // a primitive
	Name  string
	Value string // as written, quotes removed for strings
}

// primitiveSizes gives each ROS primitive's size on the wire; strings count
// their 4-byte length.
var primitiveSizes = map[string]int{
	"bool": 1, "byte": 1, "char": 1, "int8": 1, "uint8": 1,
	"int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "float32": 4,
	"int64": 8, "uint64": 8, "float64": 8, "string": 4, "wstring": 4,
}

var (
	fieldNamePattern    = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	constantNamePattern = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)
	typeNamePattern     = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	packageNamePattern  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	// arraySuffix matches "[]", "[N]" and "[<=N]" at the end of a type.
	arraySuffix = regexp.MustCompile(`\[(<=)?([0-9]*)\]$`)
)

// parseMessage reads a .msg text (or one half of a .srv) of package pkg.
// file names the source in errors.
func parseMessage(file, pkg, namespace, name, text string) (*Interface, error) {
	it := &Interface{Package: pkg, Namespace: namespace, Name: name, Text: text}
	seen := map[string]bool{}
	for i, raw := range strings.Split(text, "\n") {
		where := fmt.Sprintf("%s:%d", file, i+1)
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		typeText, rest := line, ""
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			typeText, rest = line[:i], line[i+1:]
		}
		if strings.TrimSpace(rest) == "" {
			return nil, fmt.Errorf("%s: %q has a type but no name (expected \"<type> <name>\")", where, line)
		}
		ft, err := parseFieldType(typeText, pkg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		rest = strings.TrimSpace(rest)
		if constName, value, isConstant := cutConstant(rest); isConstant {
			c, err := parseConstant(ft, typeText, constName, value)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			if seen[c.Name] {
				return nil, fmt.Errorf("%s: %s is defined twice", where, c.Name)
			}
			seen[c.Name] = true
			it.Constants = append(it.Constants, c)
			continue
		}
		rest = stripComment(rest)
		fieldName, defaultValue := rest, ""
		if i := strings.IndexAny(rest, " \t"); i >= 0 {
			fieldName, defaultValue = rest[:i], rest[i+1:]
		}
		if !fieldNamePattern.MatchString(fieldName) {
			return nil, fmt.Errorf("%s: field name %q must be lower_snake_case (a letter first)", where, fieldName)
		}
		if seen[fieldName] {
			return nil, fmt.Errorf("%s: %s is defined twice", where, fieldName)
		}
		seen[fieldName] = true
		defaultValue = strings.TrimSpace(defaultValue)
		if defaultValue != "" {
			if err := checkDefault(ft, defaultValue); err != nil {
				return nil, fmt.Errorf("%s: default of %s: %w", where, fieldName, err)
			}
		}
		it.Fields = append(it.Fields, Field{Name: fieldName, Type: ft, Default: defaultValue})
	}
	return it, nil
}

// cutConstant recognizes "NAME=value" and "NAME = value". A field's default
// never contains '=' before a space, so the first token decides.
func cutConstant(rest string) (name, value string, ok bool) {
	eq := strings.IndexByte(rest, '=')
	if eq < 0 {
		return "", "", false
	}
	name = strings.TrimSpace(rest[:eq])
	if strings.ContainsAny(name, " \t#") {
		return "", "", false
	}
	return name, strings.TrimSpace(rest[eq+1:]), true
}

// stripComment removes a trailing "# ..." from a field line.
func stripComment(s string) string {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// parseFieldType reads "T", "T[]", "T[N]", "T[<=N]", "string<=N" and
// "pkg/T" forms.
func parseFieldType(text, pkg string) (FieldType, error) {
	var ft FieldType
	base := text
	if m := arraySuffix.FindStringSubmatch(base); m != nil {
		base = base[:len(base)-len(m[0])]
		switch {
		case m[1] == "" && m[2] == "":
			ft.Collection = Sequence
		case m[2] == "":
			return ft, fmt.Errorf("type %q: a bounded sequence needs its bound, e.g. T[<=3]", text)
		default:
			n, err := strconv.Atoi(m[2])
			if err != nil || n < 1 {
				return ft, fmt.Errorf("type %q: the array size must be a whole number of at least 1", text)
			}
			ft.Size = n
			ft.Collection = Array
			if m[1] != "" {
				ft.Collection = Bounded
			}
		}
	}
	if strings.ContainsAny(base, "[]") {
		return ft, fmt.Errorf("type %q: only one array suffix ([], [N] or [<=N]) is allowed", text)
	}
	if s, bound, ok := strings.Cut(base, "<="); ok {
		if s != "string" && s != "wstring" {
			return ft, fmt.Errorf("type %q: only string and wstring take a <=N bound", text)
		}
		n, err := strconv.Atoi(bound)
		if err != nil || n < 1 {
			return ft, fmt.Errorf("type %q: the string bound must be a whole number of at least 1", text)
		}
		ft.StringBound = n
		base = s
	}
	ft.Written = base
	if _, ok := primitiveSizes[base]; ok {
		ft.Primitive = base
		return ft, nil
	}
	parts := strings.Split(base, "/")
	switch {
	case len(parts) == 1:
		ft.Package, ft.Message = pkg, parts[0]
	case len(parts) == 2:
		ft.Package, ft.Message = parts[0], parts[1]
	case len(parts) == 3 && parts[1] == "msg":
		ft.Package, ft.Message = parts[0], parts[2]
	default:
		return ft, fmt.Errorf("type %q is neither a primitive nor a message (Type, pkg/Type or pkg/msg/Type)", text)
	}
	if !packageNamePattern.MatchString(ft.Package) || !typeNamePattern.MatchString(ft.Message) {
		return ft, fmt.Errorf("type %q is neither a primitive nor a message (Type, pkg/Type or pkg/msg/Type)", text)
	}
	return ft, nil
}

// parseConstant checks a constant line: a primitive, not an array, a name
// in UPPER_SNAKE_CASE and a value of that type.
func parseConstant(ft FieldType, typeText, name, value string) (Constant, error) {
	if ft.Primitive == "" || ft.Collection != Single || ft.StringBound != 0 {
		return Constant{}, fmt.Errorf("constant %s: type %q must be a primitive, not an array, message or bounded string", name, typeText)
	}
	if !constantNamePattern.MatchString(name) {
		return Constant{}, fmt.Errorf("constant name %q must be UPPER_SNAKE_CASE (a letter first)", name)
	}
	if ft.Primitive == "string" || ft.Primitive == "wstring" {
		// rosidl keeps '#' inside a string constant's value.
		return Constant{Type: ft.Primitive, Name: name, Value: unquote(value)}, nil
	}
	value = stripComment(value)
	if err := checkScalar(ft.Primitive, value); err != nil {
		return Constant{}, fmt.Errorf("constant %s: %w", name, err)
	}
	return Constant{Type: ft.Primitive, Name: name, Value: value}, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// checkDefault checks a field's default value. Arrays of primitives take
// "[a, b]"; nested messages take no default.
func checkDefault(ft FieldType, value string) error {
	if ft.Primitive == "" {
		return fmt.Errorf("a nested message (%s) cannot have a default value", ft.Written)
	}
	if ft.Collection == Single {
		if ft.Primitive == "string" || ft.Primitive == "wstring" {
			return nil
		}
		return checkScalar(ft.Primitive, value)
	}
	if !strings.HasPrefix(value, "[") || !strings.HasSuffix(value, "]") {
		return fmt.Errorf("%q: an array default is written [a, b, ...]", value)
	}
	if ft.Primitive == "string" || ft.Primitive == "wstring" {
		return nil
	}
	inner := strings.TrimSpace(value[1 : len(value)-1])
	if inner == "" {
		return nil
	}
	for _, item := range strings.Split(inner, ",") {
		if err := checkScalar(ft.Primitive, strings.TrimSpace(item)); err != nil {
			return err
		}
	}
	return nil
}

// checkScalar checks that value is a literal of the primitive type.
func checkScalar(primitive, value string) error {
	var err error
	switch primitive {
	case "bool":
		switch strings.ToLower(value) {
		case "true", "false", "1", "0":
		default:
			err = fmt.Errorf("%q is not a bool (true, false, 1 or 0)", value)
		}
	case "float32", "float64":
		_, err = strconv.ParseFloat(value, 64)
	case "int8", "int16", "int32", "int64":
		_, err = strconv.ParseInt(value, 0, primitiveSizes[primitive]*8)
	case "byte", "char", "uint8", "uint16", "uint32", "uint64":
		_, err = strconv.ParseUint(value, 0, primitiveSizes[primitive]*8)
	}
	if err != nil {
		return fmt.Errorf("value %q does not fit %s: %w", value, primitive, err)
	}
	return nil
}

// splitService cuts a .srv text at its "---" line into the request and
// response texts. The request keeps the line break before the separator.
func splitService(file, text string) (request, response string, err error) {
	offset := 0
	for _, line := range strings.SplitAfter(text, "\n") {
		if strings.TrimRight(line, "\r\n") == "---" {
			return text[:offset], text[offset+len(line):], nil
		}
		offset += len(line)
	}
	return "", "", fmt.Errorf("%s: no \"---\" line between request and response", file)
}
