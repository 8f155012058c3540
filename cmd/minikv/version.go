package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/minikv/minikv"
)

// versionCmd is "minikv version".
var versionCmd = &command{
	name:    "version",
	args:    "",
	summary: "print the version, the Go release and the on-disk formats",
	doc: `Version prints the version of the minikv module this command was built
from ("(devel)" for a build from a checkout), the Go release that built it,
and for each kind of store file (MANIFEST, WAL, snapshot) the format
versions it reads and the one it writes. A store written by a newer format
than this build reads must be opened with a newer minikv.

Version takes no -dir: it opens no store.`,
	noStore: true,
	run:     runVersion,
}

// modulePath is the path of the minikv module.
const modulePath = "github.com/minikv/minikv"

// runVersion prints the versions of the build and of the file formats.
func runVersion(c *cmdCtx, args []string) error {
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return printVersion(c.stdout, moduleVersion(bi), goVersion(bi), minikv.FileFormats())
}

// moduleVersion returns the version of the minikv module in bi: the main
// module's when minikv is the main module, else the version of the
// dependency (its replacement's, when replaced), "(devel)" for a build
// from a checkout, and "unknown" without build information.
func moduleVersion(bi *debug.BuildInfo) string {
	if bi == nil {
		return "unknown"
	}
	if bi.Main.Path == modulePath {
		return orDevel(bi.Main.Version)
	}
	for _, m := range bi.Deps {
		if m.Path != modulePath {
			continue
		}
		if m.Replace != nil {
			return orDevel(m.Replace.Version)
		}
		return orDevel(m.Version)
	}
	return "unknown"
}

// orDevel returns v, or "(devel)" when it is empty (a module replaced by a
// directory has no version).
func orDevel(v string) string {
	if v == "" {
		return "(devel)"
	}
	return v
}

// goVersion returns the Go release that built the binary.
func goVersion(bi *debug.BuildInfo) string {
	if bi != nil && bi.GoVersion != "" {
		return bi.GoVersion
	}
	return runtime.Version()
}

// printVersion writes the output of "minikv version".
func printVersion(w io.Writer, version, goVer string, formats []minikv.FileFormat) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "minikv\t%s\n", version)
	fmt.Fprintf(tw, "go\t%s %s/%s\n", goVer, runtime.GOOS, runtime.GOARCH)
	for _, f := range formats {
		reads := make([]string, len(f.Reads))
		for i, v := range f.Reads {
			reads[i] = strconv.Itoa(v)
		}
		fmt.Fprintf(tw, "%s format\treads %s; writes %d\n", f.Name, strings.Join(reads, ", "), f.Writes)
	}
	return tw.Flush()
}
