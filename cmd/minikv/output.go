package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// quoteValue returns v as it is when it is printable UTF-8 that does not
// start with a double quote, and as a Go string literal otherwise, so that
// every printed value is one unambiguous line.
func quoteValue(v []byte) string {
	s := string(v)
	if printable(s) && !strings.HasPrefix(s, `"`) {
		return s
	}
	return strconv.Quote(s)
}

// quoteKey returns k as it is when it is printable UTF-8 without spaces or
// double quotes, and as a Go string literal otherwise, so that a key never
// runs into the next field of a line. It is the rule minikv.DumpKeys uses.
func quoteKey(k string) string {
	if k != "" && printable(k) && !strings.ContainsAny(k, " \"") {
		return k
	}
	return strconv.Quote(k)
}

// printable reports whether s is valid UTF-8 made of printable runes
// (spaces included, tabs and newlines not).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// humanBytes formats n bytes with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
