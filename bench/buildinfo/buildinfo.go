// Package buildinfo says which build of the bench is running: the module
// version and the VCS revision Go stamps into every binary it builds from a
// checkout (runtime/debug.ReadBuildInfo). A record carries it so that a
// verdict can be traced to the exact code that reached it; `bench version`
// prints it.
package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Version overrides the module version when set at link time, for builds
// that do not come from a tagged module (a release script):
//
//	go build -ldflags "-X github.com/certbench/certbench/bench/buildinfo.Version=v1.2.3" ./bench
var Version string

// Info is one build of the bench.
type Info struct {
	Module    string `json:"module"`             // module path, github.com/certbench/certbench
	Version   string `json:"version"`            // module version: v1.2.3, a pseudo-version, or "(devel)" for a build from a checkout
	Revision  string `json:"revision,omitempty"` // VCS revision (git commit hash); "" when built without VCS information
	Time      string `json:"time,omitempty"`     // the revision's commit time, RFC 3339
	Modified  bool   `json:"modified,omitempty"` // the working tree had uncommitted changes: the revision alone does not say what was built
	GoVersion string `json:"go"`                 // the toolchain, go1.26.0
}

// Read returns the running binary's build information. In a binary built
// without module support (not the case with go build in this module) it
// returns what it can: Version "unknown".
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: orUnknown(Version)}
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Module: bi.Main.Path, Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if Version != "" {
		in.Version = Version
	}
	in.Version = orUnknown(in.Version)
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

func orUnknown(v string) string {
	if v == "" {
		return "unknown"
	}
	return v
}

// String is the build in one line: "v1.2.3 (revision 0123abcd..., modified)".
func (in Info) String() string {
	var extra []string
	if in.Revision != "" {
		r := "revision " + in.Revision
		if in.Time != "" {
			r += " of " + in.Time
		}
		extra = append(extra, r)
	} else {
		extra = append(extra, "no VCS revision recorded: built outside a git checkout or with -buildvcs=false")
	}
	if in.Modified {
		extra = append(extra, "with uncommitted changes")
	}
	if in.GoVersion != "" {
		extra = append(extra, in.GoVersion)
	}
	return fmt.Sprintf("%s (%s)", in.Version, strings.Join(extra, ", "))
}
