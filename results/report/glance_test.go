package report

import (
	"regexp"
	"strings"
	"testing"
)

var reRunsTable = regexp.MustCompile(`(?s)<table class="runs">(.*?)</table>`)
var reRow = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
var reTag = regexp.MustCompile(`<[^>]*>`)

// TestArchiveTableSaysWhatFailed: the archive's table of runs, the first
// thing an archive's page shows, names on each unit's row the checks that
// found a problem there ("Failed: " and the check's plain title), and says
// "None" on a row where nothing was found, so a reader sees which units
// failed what without opening a run or knowing a provision number.
func TestArchiveTableSaysWhatFailed(t *testing.T) {
	dir, _ := threeSealed(t) // cam-2 fails "check 2"
	page := string(renderReport(t, load(t, dir), HTML))
	m := reRunsTable.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no table of runs")
	}
	rows := reRow.FindAllStringSubmatch(m[1], -1)
	if len(rows) != 4 || !strings.Contains(rows[0][1], "Problems found") {
		t.Fatalf("want a header with a Problems found column and 3 rows:\n%s", m[1])
	}
	text := func(s string) string { return strings.Join(strings.Fields(reTag.ReplaceAllString(s, " ")), " ") }
	for _, r := range rows[1:] {
		row := text(r[1])
		switch {
		case strings.Contains(row, "cam-2"):
			if !strings.Contains(row, "Failed: check 2") || strings.Contains(row, "check 1") {
				t.Errorf("the failing unit's row does not name what failed (Failed: check 2) alone: %q", row)
			}
		default:
			if !strings.Contains(row, "None") || strings.Contains(row, "check ") {
				t.Errorf("a passing unit's row does not say None: %q", row)
			}
		}
	}
}
