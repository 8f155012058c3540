package main

import (
	"regexp"
	"runtime/debug"
	"testing"
)

func TestVersion(t *testing.T) {
	r := mustRun(t, 0, "version")
	want := regexp.MustCompile(`^minikv +\S+\ngo +go\S* \w+/\w+\n` +
		`MANIFEST format +reads 1, 2; writes 2\nWAL format +reads 1, 2; writes 2\nsnapshot format +reads \d+(, \d+)*; writes \d+\n$`)
	if !want.MatchString(r.stdout) {
		t.Errorf("version printed %q", r.stdout)
	}
	mustRun(t, exitUsage, "version", "extra")
	mustRun(t, exitUsage, "version", "-dir", "x") // it opens no store
}

func TestModuleVersion(t *testing.T) {
	dep := func(path, version string, replace *debug.Module) *debug.Module {
		return &debug.Module{Path: path, Version: version, Replace: replace}
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "unknown"},
		{"checkout", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "(devel)"}}, "(devel)"},
		{"installed", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "v1.4.0"}}, "v1.4.0"},
		{"dependency", &debug.BuildInfo{Main: debug.Module{Path: "example.com/tool"},
			Deps: []*debug.Module{dep("example.com/other", "v9.0.0", nil), dep(modulePath, "v1.2.3", nil)}}, "v1.2.3"},
		{"replaced by a directory", &debug.BuildInfo{Main: debug.Module{Path: "example.com/tool"},
			Deps: []*debug.Module{dep(modulePath, "v1.2.3", dep("../minikv", "", nil))}}, "(devel)"},
		{"replaced by a version", &debug.BuildInfo{Main: debug.Module{Path: "example.com/tool"},
			Deps: []*debug.Module{dep(modulePath, "v1.2.3", dep("example.com/fork", "v1.2.4", nil))}}, "v1.2.4"},
		{"absent", &debug.BuildInfo{Main: debug.Module{Path: "example.com/tool"}}, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := moduleVersion(tt.bi); got != tt.want {
				t.Errorf("moduleVersion = %q, want %q", got, tt.want)
			}
		})
	}
}
