package main

import "testing"

func TestGet(t *testing.T) {
	dir := newStore(t, "plain", "hello world", "bin", "a\x00b\xff", "quoted", `"x"`, "empty", "")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"plain", []string{"plain"}, 0, "hello world\n"},
		{"binary is quoted", []string{"bin"}, 0, "\"a\\x00b\\xff\"\n"},
		{"raw is exact", []string{"bin", "-raw"}, 0, "a\x00b\xff"},
		{"leading quote is quoted", []string{"quoted"}, 0, "\"\\\"x\\\"\"\n"},
		{"empty value", []string{"empty"}, 0, "\n"},
		{"missing", []string{"nope"}, exitNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRun(t, tt.code, append([]string{"get", "-dir", dir}, tt.args...)...)
			if r.stdout != tt.want {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.want)
			}
		})
	}
	if r := mustRun(t, exitNotFound, "get", "-dir", dir, "nope"); r.stderr != "minikv get: key nope not found\n" {
		t.Errorf("missing key: stderr %q", r.stderr)
	}
}
