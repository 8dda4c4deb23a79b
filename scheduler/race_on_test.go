//go:build race

package scheduler

// raceDetector is true in a -race build: the property tests then draw their -short sample,
// since this package starts no goroutines and the detector only slows them tenfold.
const raceDetector = true
