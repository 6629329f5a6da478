package report

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// screenshot renders the HTML report of dir in headless Chromium and
// returns the picture. It skips the test when chromium is not installed.
func screenshot(t *testing.T, dir string, width, height int) image.Image {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		msg := "chromium is not on PATH (Debian: apt-get install chromium); the HTML report is not looked at in a browser"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI installs it in .ci/run)")
		}
		t.Skip(msg)
	}
	work := t.TempDir()
	page := filepath.Join(work, "report.html")
	if err := os.WriteFile(page, renderReport(t, load(t, dir), HTML), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(work, "shot.png")
	// The deadline only guards against a hung browser.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(work, "profile"), "--screenshot="+shot,
		"--window-size="+itoa(width)+","+itoa(height), "file://"+page)
	// Chromium starts helper processes: on timeout, end its whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if out := os.Getenv("CERTBENCH_REPORT_OUT"); out != "" {
		b, _ := os.ReadFile(shot)
		os.WriteFile(filepath.Join(out, strings.ReplaceAll(t.Name(), "/", "_")+".png"), b, 0o644)
	}
	return img
}

func itoa(n int) string { return strconv.Itoa(n) }

// near counts the pixels of r in img within a small distance of c.
func near(img image.Image, r image.Rectangle, c color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			d := abs(int(pr>>8)-int(c.R)) + abs(int(pg>>8)-int(c.G)) + abs(int(pb>>8)-int(c.B))
			if d < 24 {
				n++
			}
		}
	}
	return n
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func hexColour(s string) color.RGBA {
	var c color.RGBA
	for i, p := range []*uint8{&c.R, &c.G, &c.B} {
		v := 0
		for _, ch := range s[1+2*i : 3+2*i] {
			v *= 16
			switch {
			case ch >= '0' && ch <= '9':
				v += int(ch - '0')
			default:
				v += int(ch-'a') + 10
			}
		}
		*p = uint8(v)
	}
	c.A = 255
	return c
}

// TestHTMLInBrowser looks at the reports of a failing and a passing run the
// way a retailer would: the top of the page must carry the run's verdict
// colour in a large area, and not the other verdict's.
func TestHTMLInBrowser(t *testing.T) {
	l := readOnlyLab(t)
	red, green := hexColour(verdictColour["FAIL"]), hexColour(verdictColour["PASS"])
	const w, h = 1280, 900
	top := image.Rect(0, 0, w, 220) // the banner: what is seen without scrolling
	for _, tc := range []struct {
		name      string
		dir       string
		want, not color.RGBA
	}{
		{"fail", l.failRunDir, red, green},
		{"pass", l.passRunDir, green, red},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := screenshot(t, tc.dir, w, h)
			if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
				t.Fatalf("screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
			}
			// A blank or broken page is one colour.
			colours := map[color.Color]bool{}
			for y := 0; y < h; y += 7 {
				for x := 0; x < w; x += 7 {
					colours[img.At(x, y)] = true
				}
			}
			if len(colours) < 20 {
				t.Fatalf("the page looks blank: %d colours", len(colours))
			}
			// The banner is over 1000 px wide and over 50 px tall.
			t.Logf("top of the page: %d pixels of the verdict colour, %d of the other", near(img, top, tc.want), near(img, top, tc.not))
			if n := near(img, top, tc.want); n < 50_000 {
				t.Errorf("the top of the page has %d pixels of the verdict colour %v, want a large banner", n, tc.want)
			}
			if n := near(img, top, tc.not); n > 2_000 {
				t.Errorf("the top of the page has %d pixels of the other verdict's colour %v", n, tc.not)
			}
		})
	}
}
