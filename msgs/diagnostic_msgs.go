package msgs

// Value returns the value stored under key, and whether there is one.
func (s *DiagnosticStatus) Value(key string) (string, bool) {
	for _, kv := range s.Values {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}
