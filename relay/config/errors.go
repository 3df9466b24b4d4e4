package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a config file. It prints as "FILE:LINE: FIELD: what is wrong".
type Error struct {
	// File is the path the config was loaded from.
	File string
	// Line is the 1-based line of the offending key or value.
	Line int
	// Field is the dotted key path, e.g. tasks.routes[1].subject.
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem.
func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// Errors is every problem found in one file, ordered by line. Load returns it as its
// error; errors.As(err, &config.Errors{}) tells a bad config from an unreadable file.
type Errors []*Error

// Error prints one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the single errors, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sorted orders es by line, keeping the order of problems on one line.
func (es Errors) sorted() Errors {
	slices.SortStableFunc(es, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	return es
}
