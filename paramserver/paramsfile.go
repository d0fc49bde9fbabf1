package paramserver

import (
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"dysl_vla/msgs"
)

// The params-file format (docs/notes/ros2.md, "Params files"; rcl_yaml_param_parser):
//
//	/**:                    # every node
//	  ros__parameters:
//	    use_sim_time: false
//	robot:                  # nested node keys join with '/': "/robot/vla_node"
//	  vla_node:
//	    ros__parameters:
//	      camera: {topic: /cam}   # nested maps join with '.': "camera.topic"
//	      joint_names: [j1, j2]   # homogeneous list -> STRING_ARRAY
//
// A node key without a leading '/' gets one. In a key, "/*" matches one name token and
// "/**" any number of them; the key must match the whole fully qualified node name.

// LoadParamsFile returns the parameters a params file gives the node with the fully
// qualified name nodeFQN (such as "/robot/vla_node"), resolved as at node start-up (see
// overrideSet for the precedence).
func LoadParamsFile(path, nodeFQN string) (map[string]Value, error) {
	var set overrideSet
	if err := set.addFile(path); err != nil {
		return nil, err
	}
	return set.forNode(nodeFQN), nil
}

// UnmatchedNodeKeys lists, in file order, the node keys of a params file that do not match the node
// nodeFQN: blocks for other nodes, or for a misspelt node name, whose values the node never sees. rclcpp
// ignores them silently; a caller warns.
func UnmatchedNodeKeys(path, nodeFQN string) ([]string, error) {
	var set overrideSet
	if err := set.addFile(path); err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, a := range set.assignments {
		if !seen[a.nodeKey] && !nodeKeyMatches(a.nodeKey, nodeFQN) {
			out = append(out, a.nodeKey)
		}
		seen[a.nodeKey] = true
	}
	return out, nil
}

// overrideSet collects node-keyed parameter assignments from params files and -p arguments
// in command-line order. Resolving them for a node follows rcl and rclcpp (rcl_params_t, then
// rclcpp::parameter_map_from): every file and -p argument merges into one table of node keys, a
// later value replacing an earlier one under the same key; the keys that match the node then apply
// in the order each key first appeared, so a later key's values win. -p values are filed under
// "/**". So a file whose only key is the node's full name (what `ros2 param dump` writes) gives way
// to a later -p (a later key) and to a later launch file's dict (launch_ros writes it under the node's
// full name when it knows it, else under "/**": the same key or a later one); but "/**" seen first,
// then the exact key, leaves the exact key's values in force even over a later -p.
type overrideSet struct {
	assignments []assignment
}

type assignment struct {
	nodeKey string
	name    string
	value   Value
}

// commandLineNodeKey is the node key -p values are filed under: every node.
const commandLineNodeKey = "/**"

func (set *overrideSet) put(nodeKey, name string, v Value) {
	if !strings.HasPrefix(nodeKey, "/") {
		nodeKey = "/" + nodeKey
	}
	set.assignments = append(set.assignments, assignment{nodeKey: nodeKey, name: name, value: v})
}

// nodeKeyPattern turns a node key into rclcpp's regular expression: "/*" becomes "(/\w+)",
// so "/**" becomes "(/\w+)*" (the second '*' repeats the group); the rest is literal.
func nodeKeyPattern(key string) *regexp.Regexp {
	var pattern strings.Builder
	pattern.WriteString("^")
	for i := 0; i < len(key); i++ {
		switch {
		case strings.HasPrefix(key[i:], "/*"):
			pattern.WriteString(`(/\w+)`)
			i++
		case key[i] == '*':
			pattern.WriteString("*")
		default:
			pattern.WriteString(regexp.QuoteMeta(key[i : i+1]))
		}
	}
	pattern.WriteString("$")
	return regexp.MustCompile(pattern.String())
}

// nodeKeyIsExact reports whether a node key names one node (no wildcard).
func nodeKeyIsExact(nodeKey string) bool { return !strings.Contains(nodeKey, "*") }

func nodeKeyMatches(nodeKey, nodeFQN string) bool {
	if nodeKeyIsExact(nodeKey) {
		return nodeKey == nodeFQN
	}
	return nodeKeyPattern(nodeKey).MatchString(nodeFQN)
}

func (set *overrideSet) forNode(nodeFQN string) map[string]Value {
	var keys []string // in the order each first appeared
	byKey := map[string]map[string]Value{}
	for _, a := range set.assignments {
		if byKey[a.nodeKey] == nil {
			keys = append(keys, a.nodeKey)
			byKey[a.nodeKey] = map[string]Value{}
		}
		byKey[a.nodeKey][a.name] = a.value
	}
	values := map[string]Value{}
	for _, key := range keys {
		if nodeKeyMatches(key, nodeFQN) {
			for name, v := range byKey[key] {
				values[name] = cloneValue(v)
			}
		}
	}
	return values
}

func (set *overrideSet) addFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("params file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("params file %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // an empty file sets nothing
	}
	root := doc.Content[0]
	if err := refuseAlias(root); err != nil {
		return fmt.Errorf("params file %s: %w", path, err)
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("params file %s: line %d: expected a mapping of node names to ros__parameters", path, root.Line)
	}
	return set.addNodes(path, root, "", 0)
}

// addNodes walks node-name keys until it reaches ros__parameters; keyLine is the line of the key that
// ended nodeKey, where a bad name is said to be.
func (set *overrideSet) addNodes(path string, mapping *yaml.Node, nodeKey string, keyLine int) error {
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		key, value := mapping.Content[i], mapping.Content[i+1]
		if err := checkKey(key); err != nil {
			return fmt.Errorf("params file %s: %w", path, err)
		}
		if err := refuseAlias(value); err != nil {
			return fmt.Errorf("params file %s: %w", path, err)
		}
		if key.Value == "ros__parameters" {
			if nodeKey == "" {
				return fmt.Errorf("params file %s: line %d: ros__parameters must sit under a node name such as /** or /ns/node", path, key.Line)
			}
			if value.Kind != yaml.MappingNode {
				return fmt.Errorf("params file %s: line %d: node %q: ros__parameters must be a mapping of parameter names to values", path, value.Line, nodeKey)
			}
			// rcl judges the node's whole name here, once the nested keys are joined: a key "/"
			// with the node under it is fine, a name ending in '/' is not.
			if err := checkNodeKey(nodeKey); err != nil {
				return fmt.Errorf("params file %s: line %d: %w", path, keyLine, err)
			}
			if err := set.addParameters(path, nodeKey, value, ""); err != nil {
				return err
			}
			continue
		}
		// Joined as rcl joins them (add_name_to_ns): a '/' between, unless the outer key ends in one;
		// "/a" holding "/b" is "/a//b", which rcl refuses.
		child := key.Value
		switch {
		case nodeKey == "":
		case strings.HasSuffix(nodeKey, "/"):
			child = nodeKey + key.Value
		default:
			child = nodeKey + "/" + key.Value
		}
		if value.Kind != yaml.MappingNode {
			return fmt.Errorf("params file %s: line %d: node %q: expected a mapping holding ros__parameters or nested node names", path, value.Line, child)
		}
		if err := set.addNodes(path, value, child, key.Line); err != nil {
			return err
		}
	}
	return nil
}

// addParameters walks parameter names; nested mappings join names with '.'.
func (set *overrideSet) addParameters(path, nodeKey string, mapping *yaml.Node, prefix string) error {
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		key, node := mapping.Content[i], mapping.Content[i+1]
		if err := checkKey(key); err != nil {
			return fmt.Errorf("params file %s: node %q: %w", path, nodeKey, err)
		}
		if key.Value == "" {
			return fmt.Errorf("params file %s: line %d: node %q: empty parameter name, expected a name", path, key.Line, nodeKey)
		}
		if err := refuseAlias(node); err != nil {
			return fmt.Errorf("params file %s: node %q: %w", path, nodeKey, err)
		}
		name := key.Value
		if prefix != "" {
			name = prefix + "." + name
		}
		if node.Kind == yaml.MappingNode {
			if err := set.addParameters(path, nodeKey, node, name); err != nil {
				return err
			}
			continue
		}
		v, err := yamlValue(node)
		if err != nil {
			return fmt.Errorf("params file %s: line %d: node %q, parameter %q: %w", path, node.Line, nodeKey, name, err)
		}
		set.put(nodeKey, name, v)
	}
	return nil
}

// parseYAMLValue types a -p value the way rcl does: as a YAML scalar or flow sequence.
func parseYAMLValue(text string) (Value, error) {
	if strings.TrimSpace(text) == "" {
		return Value{}, errors.New("expected a value after ':='")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return Value{}, err
	}
	if len(doc.Content) == 0 { // "#...": YAML takes it for a comment
		return Value{}, fmt.Errorf("expected a value after ':=', got only a YAML comment %q (quote a value that starts with #)", text)
	}
	if err := refuseAlias(doc.Content[0]); err != nil {
		return Value{}, err
	}
	return yamlValue(doc.Content[0])
}

// refuseAlias refuses a YAML alias (*name), as rcl_yaml_param_parser does ("Will not support
// aliasing"): a file ROS refuses must not start the node here either, and followed naively an alias
// to its own mapping, or a few nested ones, expand without end (46 bytes took 9 GB).
func refuseAlias(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode {
		return fmt.Errorf("line %d: YAML aliases (*%s) are not supported, as ROS 2 (rcl) refuses them: write the value out", n.Line, n.Value)
	}
	return nil
}

// checkKey refuses a mapping key that is not a plain name: an alias (*k), which yaml.Node gives as the
// anchor's name and would make a parameter of the name "k", and a list or mapping as a key ("? [a, b]"),
// whose Value is empty. rcl_yaml_param_parser refuses both.
func checkKey(key *yaml.Node) error {
	if err := refuseAlias(key); err != nil {
		return err
	}
	if key.Kind != yaml.ScalarNode {
		kind := map[yaml.Kind]string{yaml.SequenceNode: "list", yaml.MappingNode: "mapping"}[key.Kind]
		return fmt.Errorf("line %d: a %s as a key, expected a node or parameter name", key.Line, kind)
	}
	return nil
}

// checkNodeKey applies rcl's rules to the whole node name of a ros__parameters block, which refuse
// the whole file otherwise: with the leading '/' put() gives it, each part between '/' is a wildcard
// (* or **) or a name of letters, digits and '_' that does not start with a digit, and no part is
// empty ("/ns//node", "/ns/node/").
func checkNodeKey(key string) error {
	parts := strings.Split(strings.TrimPrefix(key, "/"), "/")
	for _, part := range parts {
		switch {
		case part == "*" || part == "**":
		case part == "":
			return fmt.Errorf("node key %q: empty name between '/' (expected /ns/node, /** or /*)", key)
		case !isROSName(part):
			return fmt.Errorf("node key %q: %q must be * or ** or a name of letters, digits and '_' that does not start with a digit, as rcl requires", key, part)
		}
	}
	return nil
}

func isROSName(s string) bool {
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		digit := r >= '0' && r <= '9'
		if !letter && (!digit || i == 0) {
			return false
		}
	}
	return s != ""
}

// yamlValue types a scalar or a homogeneous sequence: bool, int, float and string scalars
// map to BOOL, INTEGER, DOUBLE and STRING, and sequences of them to the array types.
func yamlValue(n *yaml.Node) (Value, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return yamlScalar(n)
	case yaml.SequenceNode:
		return yamlSequence(n)
	case yaml.MappingNode:
		return Value{}, errors.New("expected a scalar or a list, got a mapping")
	default:
		// Only a document or an alias is left, and refuseAlias has refused aliases already.
		kind := map[yaml.Kind]string{yaml.DocumentNode: "document", yaml.AliasNode: "alias"}[n.Kind]
		return Value{}, fmt.Errorf("expected a scalar or a list, got a YAML %s", kind)
	}
}

// rclBoolWords are the plain scalars rcl_yaml_param_parser reads as bools (YAML 1.1 style),
// beyond the true/false that yaml.v3 resolves itself.
var rclBoolWords = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

func yamlScalar(n *yaml.Node) (Value, error) {
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return String(n.Value), nil
	}
	switch n.ShortTag() {
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return Value{}, err
		}
		return Bool(b), nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			return Value{}, fmt.Errorf("integer %s does not fit in int64", n.Value)
		}
		return Integer(i), nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return Value{}, err
		}
		if math.IsInf(f, 0) && !strings.Contains(strings.ToLower(n.Value), "inf") {
			return Value{}, fmt.Errorf("float %s does not fit in float64", n.Value)
		}
		return Double(f), nil
	case "!!null":
		return Value{}, errors.New("no value given, expected a bool, number, string or list")
	default:
		if b, ok := rclBoolWords[n.Value]; ok && n.Style&yaml.TaggedStyle == 0 {
			return Bool(b), nil
		}
		return String(n.Value), nil
	}
}

func yamlSequence(n *yaml.Node) (Value, error) {
	if len(n.Content) == 0 {
		return Value{}, errors.New("empty list: its element type cannot be inferred, expected at least one element")
	}
	items := make([]Value, len(n.Content))
	for i, child := range n.Content {
		if err := refuseAlias(child); err != nil {
			return Value{}, fmt.Errorf("list element %d: %w", i, err)
		}
		if child.Kind != yaml.ScalarNode {
			return Value{}, fmt.Errorf("list element %d is not a scalar, expected a flat list", i)
		}
		v, err := yamlScalar(child)
		if err != nil {
			return Value{}, fmt.Errorf("list element %d: %w", i, err)
		}
		if i > 0 && v.Type != items[0].Type {
			return Value{}, fmt.Errorf("list mixes %s and %s elements, expected one type", items[0].Type, v.Type)
		}
		items[i] = v
	}
	var out Value
	switch items[0].Type {
	case msgs.ParameterBool:
		out.Type = msgs.ParameterBoolArray
		for _, v := range items {
			out.BoolArrayValue = append(out.BoolArrayValue, v.BoolValue)
		}
	case msgs.ParameterInteger:
		out.Type = msgs.ParameterIntegerArray
		for _, v := range items {
			out.IntegerArrayValue = append(out.IntegerArrayValue, v.IntegerValue)
		}
	case msgs.ParameterDouble:
		out.Type = msgs.ParameterDoubleArray
		for _, v := range items {
			out.DoubleArrayValue = append(out.DoubleArrayValue, v.DoubleValue)
		}
	default:
		out.Type = msgs.ParameterStringArray
		for _, v := range items {
			out.StringArrayValue = append(out.StringArrayValue, v.StringValue)
		}
	}
	return out, nil
}

// IgnoredSettings says what of the params files the node never sees: keys it does not declare (a
// misspelt controler_threshold) and blocks for other node names, one sentence each. rclcpp ignores
// both without a word, which leaves a user running the defaults while believing the file applied; the
// node logs these as warnings and dysl replay prints them.
func IgnoredSettings(srv *Server, paramsFiles []string) ([]string, error) {
	var out []string
	source := "start-up overrides (params files and -p): "
	if len(paramsFiles) == 1 {
		source = "params file " + paramsFiles[0] + ": "
	}
	for _, name := range srv.UndeclaredOverrides() {
		out = append(out, fmt.Sprintf("%s%s is not a parameter of %s; ignored", source, name, srv.Node()))
	}
	for _, file := range paramsFiles {
		nodes, err := UnmatchedNodeKeys(file, srv.Node())
		if err != nil {
			return nil, err
		}
		for _, key := range nodes {
			out = append(out, fmt.Sprintf("params file %s: node block %s does not match %s; ignored", file, key, srv.Node()))
		}
	}
	return out, nil
}
