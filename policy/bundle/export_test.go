package bundle

// SetExchange makes Replace's exchange of the two directories f until restore is called.
func SetExchange(f func(a, b string) error) (restore func()) {
	old := exchange
	exchange = f
	return func() { exchange = old }
}
