package msgs

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
)

// SchemaEncoding is the MCAP schema encoding of the text that Schema returns;
// MessageEncoding is the MCAP channel encoding of what Encode produces.
const (
	SchemaEncoding  = "ros2msg"
	MessageEncoding = "cdr"
)

// The interface definitions are kept as .msg/.srv files so that the same
// text feeds rosidl on a ROS machine (msg/) and the bag schemas written here.
//
//go:embed msg/*.msg upstream
var definitionFiles embed.FS

// ownPackage is the ROS package that msg/*.msg belongs to.
const ownPackage = "dysl_vla"

// schemaSeparator precedes each dependency in a ros2msg full definition,
// exactly as rosbag2's LocalMessageDefinitionSource writes it: a newline,
// 80 '=', a newline, then "MSG: <type as referenced>" and a newline.
const schemaSeparator = "\n" + "================================================================================" + "\n" + "MSG: "

// primitiveTypes are the .msg field types that are not messages.
var primitiveTypes = map[string]bool{
	"bool": true, "byte": true, "char": true, "float32": true, "float64": true,
	"int8": true, "uint8": true, "int16": true, "uint16": true, "int32": true,
	"uint32": true, "int64": true, "uint64": true, "string": true, "wstring": true,
}

// definitionText returns the .msg text of a message type. typeName is
// "pkg/msg/Type", "pkg/Type", or "pkg/srv/Service_Request"/"_Response" for
// the two halves of a service definition.
func definitionText(typeName string) (string, error) {
	pkg, ns, name, err := splitTypeName(typeName)
	if err != nil {
		return "", err
	}
	dir := path.Join("upstream", pkg, ns)
	if pkg == ownPackage {
		dir = ns
	}
	if ns == "srv" {
		service, half, ok := strings.Cut(name, "_")
		if !ok || (half != "Request" && half != "Response") {
			return "", fmt.Errorf("msgs: service type %q must end in _Request or _Response", typeName)
		}
		raw, err := definitionFiles.ReadFile(path.Join(dir, service+".srv"))
		if err != nil {
			return "", fmt.Errorf("msgs: no definition for %q: %w", typeName, err)
		}
		request, response, ok := strings.Cut(string(raw), "\n---\n")
		if !ok {
			return "", fmt.Errorf("msgs: %s.srv has no '---' line between request and response", service)
		}
		if half == "Request" {
			return request + "\n", nil
		}
		return response, nil
	}
	raw, err := definitionFiles.ReadFile(path.Join(dir, name+".msg"))
	if err != nil {
		return "", fmt.Errorf("msgs: no definition for %q: %w", typeName, err)
	}
	return string(raw), nil
}

// splitTypeName accepts "pkg/Type" (namespace msg) and "pkg/ns/Type".
func splitTypeName(typeName string) (pkg, ns, name string, err error) {
	parts := strings.Split(typeName, "/")
	switch {
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return parts[0], "msg", parts[1], nil
	case len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] != "":
		return parts[0], parts[1], parts[2], nil
	}
	return "", "", "", fmt.Errorf("msgs: type name %q is not of the form pkg/Type or pkg/msg/Type", typeName)
}

// fieldDependencies lists the message types that a .msg text refers to, as
// written, with types of the same package qualified by pkg. The result is
// sorted, which is the order rosbag2 appends dependencies in.
func fieldDependencies(text, pkg string) []string {
	seen := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		fieldType := fields[0]
		if i := strings.IndexAny(fieldType, "[<"); i >= 0 {
			fieldType = fieldType[:i] // "T[]", "T[3]", "T[<=1]", "string<=8"
		}
		if primitiveTypes[fieldType] {
			continue
		}
		if !strings.Contains(fieldType, "/") {
			fieldType = pkg + "/" + fieldType
		}
		seen[fieldType] = true
	}
	deps := make([]string, 0, len(seen))
	for dep := range seen {
		deps = append(deps, dep)
	}
	sort.Strings(deps)
	return deps
}

// fullDefinition builds the ros2msg schema text of typeName the way rosbag2
// does: the type's own text, then each dependency not yet written, depth
// first in sorted order, each behind schemaSeparator.
func fullDefinition(typeName string) (string, error) {
	var b strings.Builder
	written := map[string]bool{}
	var appendType func(name string, depth int) error
	appendType = func(name string, depth int) error {
		if depth > 50 {
			return fmt.Errorf("msgs: definition of %q nests deeper than 50 levels", typeName)
		}
		text, err := definitionText(name)
		if err != nil {
			return err
		}
		b.WriteString(text)
		pkg, _, _, _ := splitTypeName(name)
		for _, dep := range fieldDependencies(text, pkg) {
			if written[dep] {
				continue
			}
			written[dep] = true
			b.WriteString(schemaSeparator)
			b.WriteString(dep)
			b.WriteString("\n")
			if err := appendType(dep, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := appendType(typeName, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}
