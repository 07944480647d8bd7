package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at link time by release builds (-ldflags "-X
// main.version=v1.2.3"); otherwise it comes from the build information Go
// records (the module version, or the VCS revision of a source build).
var version = ""

// VersionCmd prints what this binary is.
type VersionCmd struct{}

// Run prints the version, the source revision and the Go toolchain.
func (VersionCmd) Run() error {
	fmt.Println(versionLine())
	return nil
}

// versionLine is "certhub <version> (<revision>[+dirty], <time>) <go> <os>/<arch>".
func versionLine() string {
	v, rev, at, dirty := version, "", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	src := ""
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "+dirty"
		}
		src = " (" + rev
		if at != "" {
			src += ", " + at
		}
		src += ")"
	}
	return fmt.Sprintf("certhub %s%s %s %s/%s", v, src, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
