package report

import (
	"context"
	"encoding/json"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certbench/certbench/results"
)

// measure is run in the page (with its CSP taken out for the test only) and
// writes what is cut into <body data-cut>: the "Tested" cell's date broken
// inside a word or running out of its cell, and timeline lane labels that
// run into the plot or were shortened.
const measure = `<script>
(function(){
  var cut = [];
  document.querySelectorAll('.device > div').forEach(function(div){
    var box = div.getBoundingClientRect();
    div.querySelectorAll('span').forEach(function(s){
      var r = s.getBoundingClientRect();
      if (r.right > box.right + 0.5) cut.push('cell ' + div.textContent.trim() + ': ' + s.textContent + ' runs out of its cell');
    });
    if (!/^Tested/i.test(div.textContent.trim())) return;
    var val = div.querySelector('.val'), t = val.firstChild, txt = t.textContent;
    var top = null, prev = ' ';
    for (var i = 0; i < txt.length; i++) {
      var rg = document.createRange(); rg.setStart(t, i); rg.setEnd(t, i+1);
      var y = rg.getBoundingClientRect().top;
      if (top !== null && Math.abs(y-top) > 2 && prev !== ' ' && txt[i] !== ' ') cut.push('Tested: "' + txt + '" broken inside a word at ' + i);
      top = y; prev = txt[i];
    }
  });
  document.querySelectorAll('svg.timeline > text[x="4"]').forEach(function(tx){
    var line = tx.nextElementSibling;
    if (!line || line.tagName !== 'line') return;
    var b = tx.getBBox(), plot = parseFloat(line.getAttribute('x1'));
    if (b.x + b.width > plot - 2) cut.push('lane label "' + tx.textContent + '" runs into the plot (' + (b.x+b.width).toFixed(0) + ' > ' + plot + ')');
    if (tx.textContent.indexOf('\u2026') >= 0) cut.push('lane label "' + tx.textContent + '" shortened');
  });
  document.body.setAttribute('data-cut', JSON.stringify(cut));
})();
</script>`

var reCSP = regexp.MustCompile(`<meta http-equiv="Content-Security-Policy"[^>]*>`)
var reCut = regexp.MustCompile(`data-cut="([^"]*)"`)

// TestHTMLNothingCut opens a report in headless Chromium at a desktop, a
// tablet and a phone width and asks the browser's layout whether the
// "Tested … UTC" cell or a relay's timeline lane label is cut.
func TestHTMLNothingCut(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not on PATH (CI installs it in .ci/run)")
		}
		t.Skip("chromium is not on PATH (Debian: apt-get install chromium)")
	}
	a, err := results.OpenArchive(filepath.Join(t.TempDir(), "archive"))
	if err != nil {
		t.Fatal(err)
	}
	run, err := a.Begin(results.Meta{Bench: "lab-bench-1", Fixture: "doorbell-pro-2"})
	if err != nil {
		t.Fatal(err)
	}
	ep := run.Epoch().UTC()
	// The relay's name as the bench wires it: fixture "NAME".
	sw := `fixture "doorbell-pro-2"`
	if err := run.AddEvidence("power-doorbell-pro-2.jsonl", results.KindPower, jsonl(t,
		results.PowerEvent{MonoNs: 1 * ms, Wall: ep, Switch: sw, Action: "on", Level: "Low"},
		results.PowerEvent{MonoNs: 900 * ms, Wall: ep, Switch: sw, Action: "off", Level: "High"})); err != nil {
		t.Fatal(err)
	}
	c := testCase("1", results.Pass, "")
	c.Timing = results.Timing{StartMonoNs: 10 * ms, DurationNs: 800 * ms}
	rec := &results.Record{
		Device:       results.Device{Model: "ACME Doorbell Pro 2", Serial: "ADP2-0000012345", Firmware: results.Firmware{Version: "4.10.2-rc3"}},
		Declarations: results.Declarations{Name: "acme.yaml", SHA256: strings.Repeat("ef", 32)},
		Cases:        []results.Case{c}, Started: ep, Finished: ep.Add(83*time.Minute + 20*time.Second),
	}
	if err := run.Seal(rec, key(t)); err != nil {
		t.Fatal(err)
	}
	page := string(renderReport(t, load(t, run.Dir()), HTML))
	page = reCSP.ReplaceAllString(page, "")
	page = strings.Replace(page, "</body>", measure+"</body>", 1)
	work := t.TempDir()
	file := filepath.Join(work, "report.html")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, width := range []int{1280, 1100, 1024, 1000, 960, 900, 800, 700, 600, 480, 390, 360, 320} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hung browser only
		cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir="+filepath.Join(work, "profile"), "--window-size="+itoa(width)+",2000", "--dump-dom", "file://"+file)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		out, err := cmd.Output()
		cancel()
		if err != nil {
			t.Fatalf("chromium at %d px: %v", width, err)
		}
		m := reCut.FindSubmatch(out)
		if m == nil {
			t.Fatalf("at %d px the page did not measure itself:\n%.2000s", width, out)
		}
		var cut []string
		if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &cut); err != nil {
			t.Fatalf("at %d px: %v: %s", width, err, m[1])
		}
		for _, c := range cut {
			t.Errorf("at %d px: %s", width, c)
		}
	}
}
