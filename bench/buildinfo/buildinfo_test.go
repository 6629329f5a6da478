package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/certbench/certbench", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-12-06T20:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	in := fromBuildInfo(bi)
	want := Info{Module: "github.com/certbench/certbench", Version: "v1.2.3", Revision: "0123456789abcdef0123456789abcdef01234567",
		Time: "2026-12-06T20:00:00Z", Modified: true, GoVersion: "go1.26.0"}
	if in != want {
		t.Fatalf("got %+v, want %+v", in, want)
	}
	if s := in.String(); !strings.Contains(s, "v1.2.3") || !strings.Contains(s, "revision 0123456789abcdef") || !strings.Contains(s, "uncommitted") {
		t.Fatalf("String() = %q", s)
	}
	Version = "v9.9.9"
	defer func() { Version = "" }()
	if v := fromBuildInfo(bi).Version; v != "v9.9.9" {
		t.Fatalf("a link-time Version is not used: %q", v)
	}
}
