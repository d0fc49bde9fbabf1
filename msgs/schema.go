package msgs

// SchemaEncoding is the MCAP schema encoding of the text that Schema returns;
// MessageEncoding is the MCAP channel encoding of what Encode produces.
const (
	SchemaEncoding  = "ros2msg"
	MessageEncoding = "cdr"
)
