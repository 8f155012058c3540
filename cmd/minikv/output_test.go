package main

import "testing"

func TestQuoteValue(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello", "hello"},
		{"spaces kept", "hello world", "hello world"},
		{"unicode", "héllo ✓", "héllo ✓"},
		{"empty", "", ""},
		{"binary", "a\x00b", `"a\x00b"`},
		{"newline", "a\nb", `"a\nb"`},
		{"invalid utf-8", "\xff", `"\xff"`},
		{"leading quote", `"q"`, `"\"q\""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quoteValue([]byte(tt.in)); got != tt.want {
				t.Errorf("quoteValue(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestQuoteKey(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "user:1", "user:1"},
		{"space", "a b", `"a b"`},
		{"quote inside", `a"b`, `"a\"b"`},
		{"tab", "a\tb", `"a\tb"`},
		{"binary", "\x01", `"\x01"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quoteKey(tt.in); got != tt.want {
				t.Errorf("quoteKey(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"},
	}
	for _, tt := range tests {
		if got := humanBytes(tt.in); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
