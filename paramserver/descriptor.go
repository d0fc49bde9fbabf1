package paramserver

import (
	"fmt"
	"math"
	"strconv"

	"dysl_vla/msgs"
)

// cloneDescriptor copies the descriptor's range slices.
func cloneDescriptor(d Descriptor) Descriptor {
	d.FloatingPointRange = append([]msgs.FloatingPointRange(nil), d.FloatingPointRange...)
	d.IntegerRange = append([]msgs.IntegerRange(nil), d.IntegerRange...)
	return d
}

// validateDescriptor rejects descriptors that no message could carry or that no value could satisfy.
func validateDescriptor(name string, d Descriptor) error {
	if len(d.IntegerRange) > 1 {
		return fmt.Errorf("parameter '%s': descriptor has %d integer ranges, expected at most 1", name, len(d.IntegerRange))
	}
	if len(d.FloatingPointRange) > 1 {
		return fmt.Errorf("parameter '%s': descriptor has %d floating point ranges, expected at most 1", name, len(d.FloatingPointRange))
	}
	if len(d.IntegerRange) == 1 && d.IntegerRange[0].FromValue > d.IntegerRange[0].ToValue {
		r := d.IntegerRange[0]
		return fmt.Errorf("parameter '%s': integer range from %d to %d is empty, expected from <= to", name, r.FromValue, r.ToValue)
	}
	if len(d.FloatingPointRange) == 1 {
		r := d.FloatingPointRange[0]
		if !(r.FromValue <= r.ToValue) || r.Step < 0 || math.IsNaN(r.Step) {
			return fmt.Errorf("parameter '%s': floating point range from %g to %g step %g is invalid, expected from <= to and step >= 0", name, r.FromValue, r.ToValue, r.Step)
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

func integerRangeContains(r msgs.IntegerRange, v int64) bool {
	if v == r.FromValue || v == r.ToValue {
		return true
	}
	if v < r.FromValue || v > r.ToValue {
		return false
	}
	if r.Step == 0 {
		return true
	}
	// v > From here, so the unsigned difference is exact even when v-From overflows int64.
	return (uint64(v)-uint64(r.FromValue))%r.Step == 0
}

func floatingPointRangeContains(r msgs.FloatingPointRange, v float64) bool {
	if doublesEqual(v, r.FromValue) || doublesEqual(v, r.ToValue) {
		return true
	}
	if v < r.FromValue || v > r.ToValue || math.IsNaN(v) {
		return false
	}
	if r.Step == 0 {
		return true
	}
	steps := math.Round((v - r.FromValue) / r.Step)
	return doublesEqual(v, r.FromValue+steps*r.Step)
}

// describeRange is the descriptor's range for an error, such as " (range 0 to 64)" or
// " (range 0.1 to 60, step 0.1)"; empty without one.
func describeRange(d Descriptor) string {
	if r := rangeText(d); r != "" {
		return " (range " + r + ")"
	}
	return ""
}

// rangeText is the descriptor's range, such as "0 to 64" or "0.1 to 60, step 0.1"; empty without one.
func rangeText(d Descriptor) string {
	format := func(from, to, step string, hasStep bool) string {
		if hasStep {
			return fmt.Sprintf("%s to %s, step %s", from, to, step)
		}
		return fmt.Sprintf("%s to %s", from, to)
	}
	float := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	switch {
	case len(d.IntegerRange) == 1:
		r := d.IntegerRange[0]
		return format(strconv.FormatInt(r.FromValue, 10), strconv.FormatInt(r.ToValue, 10), strconv.FormatUint(r.Step, 10), r.Step > 1)
	case len(d.FloatingPointRange) == 1:
		r := d.FloatingPointRange[0]
		return format(float(r.FromValue), float(r.ToValue), float(r.Step), r.Step > 0)
	}
	return ""
}

// checkType refuses a value of another type than a statically typed parameter's, with rclcpp's reason.
// A value about to be set is checked in rclcpp's order (__check_parameters): type first, then range
// (checkRange).
func checkType(d Descriptor, name string, v Value) SetResult {
	if !d.DynamicTyping && d.Type != v.Type {
		return SetResult{Reason: fmt.Sprintf(
			"Wrong parameter type, parameter {%s} is of type {%s}, setting it to {%s} is not allowed.",
			name, rclcppTypeName(d.Type), rclcppTypeName(v.Type))}
	}
	return SetResult{Successful: true}
}

// checkRange refuses a value outside the descriptor's range, with rclcpp's reason. Ranges also apply
// to every element of integer and double arrays, which rclcpp Humble does not check; a joint-limit
// array outside its range is as wrong as a scalar.
func checkRange(d Descriptor, name string, v Value) SetResult {
	// What a range applies to: the scalar, or each element of the array.
	var integers []int64
	var doubles []float64
	switch v.Type {
	case msgs.ParameterInteger:
		integers = []int64{v.IntegerValue}
	case msgs.ParameterIntegerArray:
		integers = v.IntegerArrayValue
	case msgs.ParameterDouble:
		doubles = []float64{v.DoubleValue}
	case msgs.ParameterDoubleArray:
		doubles = v.DoubleArrayValue
	}
	if len(d.IntegerRange) == 1 && !allIn(d.IntegerRange[0], integers, integerRangeContains) {
		return SetResult{Reason: fmt.Sprintf("Parameter {%s} doesn't comply with integer range.", name)}
	}
	if len(d.FloatingPointRange) == 1 {
		// rclcpp's tolerance test holds for ±Inf against any bound, so its ranges admit infinities (and a
		// max_image_age of .inf turns a check off); a declared range here means a number within it.
		for _, x := range doubles {
			if math.IsInf(x, 0) || math.IsNaN(x) {
				return SetResult{Reason: fmt.Sprintf("Parameter {%s} doesn't comply with floating point range: %v is not a finite number.", name, x)}
			}
		}
	}
	if len(d.FloatingPointRange) == 1 && !allIn(d.FloatingPointRange[0], doubles, floatingPointRangeContains) {
		return SetResult{Reason: fmt.Sprintf("Parameter {%s} doesn't comply with floating point range.", name)}
	}
	return SetResult{Successful: true}
}

// allIn reports whether range r contains every item.
func allIn[R, T any](r R, items []T, contains func(R, T) bool) bool {
	for _, item := range items {
		if !contains(r, item) {
			return false
		}
	}
	return true
}

// rclcppTypeName is rclcpp::to_string(ParameterType): the names msgs gives, and "unknown type"
// for a type byte beyond them, which a set request off the wire may carry.
func rclcppTypeName(t msgs.ParameterType) string {
	if t > msgs.ParameterStringArray {
		return "unknown type"
	}
	return t.String()
}
