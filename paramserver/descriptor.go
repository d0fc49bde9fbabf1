package paramserver

import (
	"fmt"
	"math"
)

// Descriptor is rcl_interfaces/msg/ParameterDescriptor. The ranges are sequences of at most
// one element, as in the message; an empty slice means "no range".
type Descriptor struct {
	Name                  string
	Type                  Type
	Description           string
	AdditionalConstraints string
	ReadOnly              bool
	// DynamicTyping lets a set change the parameter's type (and lets it be undeclared).
	DynamicTyping      bool
	FloatingPointRange []FloatingPointRange
	IntegerRange       []IntegerRange
}

// IntegerRange is rcl_interfaces/msg/IntegerRange. From and To are inclusive. A Step of 0
// means any integer in range; otherwise a value must be From + n*Step, or equal To.
type IntegerRange struct {
	From int64
	To   int64
	Step uint64
}

// FloatingPointRange is rcl_interfaces/msg/FloatingPointRange. Like IntegerRange, compared
// with rclcpp's relative tolerance (see doublesEqual); a Step of 0 means no step.
type FloatingPointRange struct {
	From float64
	To   float64
	Step float64
}

// clone copies the descriptor's range slices.
func (d Descriptor) clone() Descriptor {
	d.FloatingPointRange = append([]FloatingPointRange(nil), d.FloatingPointRange...)
	d.IntegerRange = append([]IntegerRange(nil), d.IntegerRange...)
	return d
}

// validate rejects descriptors that no message could carry or that no value could satisfy.
func (d Descriptor) validate(name string) error {
	if len(d.IntegerRange) > 1 {
		return fmt.Errorf("parameter '%s': descriptor has %d integer ranges, expected at most 1", name, len(d.IntegerRange))
	}
	if len(d.FloatingPointRange) > 1 {
		return fmt.Errorf("parameter '%s': descriptor has %d floating point ranges, expected at most 1", name, len(d.FloatingPointRange))
	}
	if len(d.IntegerRange) == 1 && d.IntegerRange[0].From > d.IntegerRange[0].To {
		r := d.IntegerRange[0]
		return fmt.Errorf("parameter '%s': integer range from %d to %d is empty, expected from <= to", name, r.From, r.To)
	}
	if len(d.FloatingPointRange) == 1 {
		r := d.FloatingPointRange[0]
		if !(r.From <= r.To) || r.Step < 0 || math.IsNaN(r.Step) {
			return fmt.Errorf("parameter '%s': floating point range from %g to %g step %g is invalid, expected from <= to and step >= 0", name, r.From, r.To, r.Step)
		}
	}
	return nil
}

// rclcpp compares doubles with a relative tolerance of 100 ULP:
// |x-y| <= epsilon * |x+y| * 100 (node_parameters.cpp, __are_doubles_equal).
const doubleEqualULP = 100.0

func doublesEqual(x, y float64) bool {
	const epsilon = 2.220446049250313e-16 // std::numeric_limits<double>::epsilon()
	return math.Abs(x-y) <= epsilon*math.Abs(x+y)*doubleEqualULP
}

func (r IntegerRange) contains(v int64) bool {
	if v == r.From || v == r.To {
		return true
	}
	if v < r.From || v > r.To {
		return false
	}
	if r.Step == 0 {
		return true
	}
	// v > From here, so the unsigned difference is exact even when v-From overflows int64.
	return (uint64(v)-uint64(r.From))%r.Step == 0
}

func (r FloatingPointRange) contains(v float64) bool {
	if doublesEqual(v, r.From) || doublesEqual(v, r.To) {
		return true
	}
	if v < r.From || v > r.To || math.IsNaN(v) {
		return false
	}
	if r.Step == 0 {
		return true
	}
	steps := math.Round((v - r.From) / r.Step)
	return doublesEqual(v, r.From+steps*r.Step)
}

// checkValue applies the descriptor's type and range rules to a value about to be set,
// in rclcpp's order (__check_parameters): type first, then range. Ranges also apply to
// every element of integer and double arrays, which rclcpp Humble does not check; a
// joint-limit array outside its range is as wrong as a scalar.
func (d Descriptor) checkValue(name string, v Value) SetResult {
	if !d.DynamicTyping && d.Type != v.Type {
		return SetResult{Reason: fmt.Sprintf(
			"Wrong parameter type, parameter {%s} is of type {%s}, setting it to {%s} is not allowed.",
			name, d.Type, v.Type)}
	}
	if len(d.IntegerRange) == 1 {
		r := d.IntegerRange[0]
		ok := true
		switch v.Type {
		case TypeInteger:
			ok = r.contains(v.IntegerValue)
		case TypeIntegerArray:
			for _, item := range v.IntegerArrayValue {
				ok = ok && r.contains(item)
			}
		}
		if !ok {
			return SetResult{Reason: fmt.Sprintf("Parameter {%s} doesn't comply with integer range.", name)}
		}
	}
	if len(d.FloatingPointRange) == 1 {
		r := d.FloatingPointRange[0]
		ok := true
		switch v.Type {
		case TypeDouble:
			ok = r.contains(v.DoubleValue)
		case TypeDoubleArray:
			for _, item := range v.DoubleArrayValue {
				ok = ok && r.contains(item)
			}
		}
		if !ok {
			return SetResult{Reason: fmt.Sprintf("Parameter {%s} doesn't comply with floating point range.", name)}
		}
	}
	return SetResult{Successful: true}
}
