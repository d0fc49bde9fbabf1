//go:build !race

package msgs

// raceDetector says whether the tests run under -race, where sync.Pool drops objects on purpose, so
// pooled codecs allocate now and then.
const raceDetector = false
