package paramserver

import (
	"fmt"
	"regexp"
	"strings"

	"dysl_vla/msgs"
)

// Remap is one name remapping rule, "-r [node:]from:=to". A rule with Node set applies only
// to the node of that (original) name; ParseArgs keeps only rules for this node.
type Remap struct {
	Node string
	From string
	To   string
}

// Args is what the ROS part of a command line says to this node.
type Args struct {
	// NodeName and Namespace after "-r __node:=" and "-r __ns:=" (the defaults otherwise).
	NodeName  string
	Namespace string
	// Remaps are the topic and service remappings for this node, in command-line order.
	// rcl applies the first rule that matches; see RemapName.
	Remaps []Remap
	// ParamsFiles lists the --params-file paths in order.
	ParamsFiles []string
	// Overrides are the start-up parameter values for this node (Config.Overrides).
	Overrides map[string]Value
	// UseSimTime is the use_sim_time override, false when none is given.
	UseSimTime bool
	// Rest holds the arguments outside --ros-args ... [--] blocks, for the program's own flags.
	Rest []string
}

// FullyQualifiedName returns Namespace joined with NodeName, such as "/robot/vla_node".
func (a Args) FullyQualifiedName() string {
	if a.Namespace == "/" {
		return "/" + a.NodeName
	}
	return a.Namespace + "/" + a.NodeName
}

// RemapName applies the first remap rule whose From names the same thing as name, after
// expanding both against the node's namespace ("~" is the node itself, a relative name is
// under the namespace), and returns the expanded result.
func (a Args) RemapName(name string) string {
	expanded := a.expandName(name)
	for _, r := range a.Remaps {
		if a.expandName(r.From) == expanded {
			return a.expandName(r.To)
		}
	}
	return expanded
}

func (a Args) expandName(name string) string {
	switch {
	case strings.HasPrefix(name, "/"):
		return name
	case name == "~":
		return a.FullyQualifiedName()
	case strings.HasPrefix(name, "~/"):
		return a.FullyQualifiedName() + name[1:]
	case a.Namespace == "/":
		return "/" + name
	default:
		return a.Namespace + "/" + name
	}
}

var (
	nodeNamePattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	namespacePattern = regexp.MustCompile(`^/$|^(/[A-Za-z_][A-Za-z0-9_]*)+$`)
)

// ROS arguments ParseArgs accepts but leaves to rcl: logging and security settings.
var (
	rosFlagsWithValue = map[string]bool{"--log-level": true, "--log-config-file": true, "-e": true, "--enclave": true}
	rosFlagsAlone     = map[string]bool{
		"--enable-rosout-logs": true, "--disable-rosout-logs": true,
		"--enable-stdout-logs": true, "--disable-stdout-logs": true,
		"--enable-external-lib-logs": true, "--disable-external-lib-logs": true,
	}
)

// ParseArgs reads the ROS arguments in args (os.Args[1:]) for the node whose name and
// namespace in code are defaultNode and defaultNamespace, as launch_ros passes them
// (docs/notes/ros2.md, "What launch passes"): --ros-args blocks ended by "--" or the end, holding -r/--remap
// [node:]from:=to (including __node and __ns), -p/--param name:=value with a YAML-typed
// value, and --params-file FILE. Params files and -p values merge in command-line order as
// rcl merges them, and Overrides keeps what matches the node's fully qualified name after
// remapping. Unknown ROS arguments are an error, as in rclcpp.
func ParseArgs(args []string, defaultNode, defaultNamespace string) (Args, error) {
	if defaultNamespace == "" {
		defaultNamespace = "/"
	}
	if !nodeNamePattern.MatchString(defaultNode) {
		return Args{}, fmt.Errorf("node name %q is invalid, expected letters, digits and underscores, not starting with a digit", defaultNode)
	}
	if !namespacePattern.MatchString(defaultNamespace) {
		return Args{}, fmt.Errorf("namespace %q is invalid, expected an absolute namespace such as /robot", defaultNamespace)
	}
	parsed := Args{NodeName: defaultNode, Namespace: defaultNamespace}
	var nodeRemapped, namespaceRemapped bool
	var set overrideSet

	inROSArgs := false
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !inROSArgs {
			if arg == "--ros-args" {
				inROSArgs = true
			} else {
				parsed.Rest = append(parsed.Rest, arg)
			}
			continue
		}
		if arg == "--ros-args" {
			continue
		}
		if arg == "--" {
			inROSArgs = false
			continue
		}
		if rosFlagsAlone[arg] {
			continue
		}
		if arg != "-r" && arg != "--remap" && arg != "-p" && arg != "--param" && arg != "--params-file" && !rosFlagsWithValue[arg] {
			return Args{}, fmt.Errorf("unknown ROS argument %q, expected -r, -p, --params-file or a logging flag", arg)
		}
		if i+1 >= len(args) {
			return Args{}, fmt.Errorf("ROS argument %s needs a value after it", arg)
		}
		i++
		value := args[i]
		switch arg {
		case "-r", "--remap":
			rule, err := parseRemap(value)
			if err != nil {
				return Args{}, err
			}
			if rule.Node != "" && rule.Node != defaultNode {
				continue // addressed to another node in the same process
			}
			switch rule.From {
			case "__node", "__name":
				if !nodeNamePattern.MatchString(rule.To) {
					return Args{}, fmt.Errorf("-r %s: node name %q is invalid, expected letters, digits and underscores, not starting with a digit", value, rule.To)
				}
				if !nodeRemapped { // rcl uses the first matching rule
					parsed.NodeName, nodeRemapped = rule.To, true
				}
			case "__ns":
				ns := rule.To
				if len(ns) > 1 {
					ns = strings.TrimSuffix(ns, "/")
				}
				if !namespacePattern.MatchString(ns) {
					return Args{}, fmt.Errorf("-r %s: namespace %q is invalid, expected an absolute namespace such as /robot", value, rule.To)
				}
				if !namespaceRemapped {
					parsed.Namespace, namespaceRemapped = ns, true
				}
			default:
				parsed.Remaps = append(parsed.Remaps, rule)
			}
		case "-p", "--param":
			name, v, err := parseParamArg(value)
			if err != nil {
				return Args{}, err
			}
			set.put(commandLineNodeKey, name, v)
		case "--params-file":
			if err := set.addFile(value); err != nil {
				return Args{}, err
			}
			parsed.ParamsFiles = append(parsed.ParamsFiles, value)
		}
	}

	parsed.Overrides = set.forNode(parsed.FullyQualifiedName())
	if v, ok := parsed.Overrides["use_sim_time"]; ok {
		if v.Type != msgs.ParameterBool {
			return Args{}, fmt.Errorf("parameter use_sim_time is %s %s, expected a bool", v.Type, FormatValue(v))
		}
		parsed.UseSimTime = v.BoolValue
	}
	return parsed, nil
}

func parseRemap(text string) (Remap, error) {
	lhs, to, ok := strings.Cut(text, ":=")
	if !ok || lhs == "" || to == "" {
		return Remap{}, fmt.Errorf("-r %q: expected [node:]from:=to", text)
	}
	rule := Remap{From: lhs, To: to}
	if node, from, hasNode := strings.Cut(lhs, ":"); hasNode {
		if node == "" || from == "" {
			return Remap{}, fmt.Errorf("-r %q: expected [node:]from:=to", text)
		}
		rule.Node, rule.From = node, from
	}
	return rule, nil
}

func parseParamArg(text string) (string, Value, error) {
	name, valueText, ok := strings.Cut(text, ":=")
	if !ok || name == "" {
		return "", Value{}, fmt.Errorf("-p %q: expected name:=value", text)
	}
	if strings.Contains(name, ":") {
		return "", Value{}, fmt.Errorf("-p %q: parameter name %q must not contain ':', expected name:=value", text, name)
	}
	v, err := parseYAMLValue(valueText)
	if err != nil {
		return "", Value{}, fmt.Errorf("-p %q: %w", text, err)
	}
	return name, v, nil
}
