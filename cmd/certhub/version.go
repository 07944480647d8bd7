package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at link time by release and image builds (-ldflags "-X
// main.version=v1.2.3"; .ci/image sets git describe); otherwise it comes
// from the build information Go records.
var version = ""

// VersionCmd prints what this binary is.
type VersionCmd struct{}

// Run prints the version, the source revision and the Go toolchain.
func (VersionCmd) Run() error {
	fmt.Printf("certhub %s %s %s/%s\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// buildVersion is this binary's version: the one set at link time, else
// the module version of a `go install …@version`, else the VCS revision
// (-dirty for a modified tree), else "(devel)". `certhub version` prints
// it and traces carry it as service.version.
func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "(devel)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
