//go:build race

package msgs

const raceDetector = true
