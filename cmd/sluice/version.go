package main

import (
	"runtime/debug"
	"strings"
)

// version is what --version prints: the module version, and the VCS
// revision, commit time and modified flag the go command stamped into the
// binary (go build -buildvcs, the default in a checkout).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown: no build information)"
	}
	return formatVersion(bi)
}

func formatVersion(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	var parts []string
	if r := set["vcs.revision"]; r != "" {
		parts = append(parts, "revision "+r)
	}
	if t := set["vcs.time"]; t != "" {
		parts = append(parts, "committed "+t)
	}
	if set["vcs.modified"] == "true" {
		parts = append(parts, "modified")
	}
	if len(parts) == 0 {
		parts = append(parts, "no VCS information (built with -buildvcs=false?)")
	}
	return v + " (" + strings.Join(parts, ", ") + ") " + bi.GoVersion
}
