package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// buildVersion reads the module version and VCS revision the Go toolchain stamped in.
func buildVersion() (version, revision string) {
	version, revision = "(devel)", "unknown"
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version, revision
	}
	if info.Main.Version != "" {
		version = info.Main.Version
	}
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified {
		revision += "-dirty"
	}
	return version, revision
}

func versionString() string {
	v, rev := buildVersion()
	return fmt.Sprintf("reten-relay %s (commit %s, %s %s/%s)", v, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// userAgent names reten-relay and its version in every request to Reten.
func userAgent() string {
	v, _ := buildVersion()
	return "reten-relay/" + v
}
