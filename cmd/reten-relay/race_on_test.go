//go:build race

package main

// raceDetector is true when the tests run with -race, which makes the biggest loads far
// slower: those tests scale down and say so.
const raceDetector = true
