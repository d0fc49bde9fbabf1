package nodecore

// RunnerClosing reports whether Close has told r's worker to stop, so that a test can hold an
// inference until then instead of sleeping and hoping.
func RunnerClosing(r *Runner) bool { return r.closing() }
