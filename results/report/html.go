package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/certbench/certbench/results"
)

// WriteHTML writes rep as one self-contained HTML page: no script, no
// external asset, and a Content-Security-Policy that forbids both, so even a
// mistake in escaping could not run anything a device sent. The page starts
// with what a retailer needs at a glance: for an archive, a table of runs,
// failures first, each row naming the checks that found a problem on that
// unit by their plain titles (or "None"), so which units failed what reads
// without knowing a provision number; then per run a big verdict, the
// device, counts, one sentence per problem; then per case its references,
// verdict, reason, a timeline and the console excerpt that decided it.
//
// html/template escapes every string; strings from a device are also made
// visible (see Line) first. The timelines are built as SVG by this package,
// escaping every text they hold.
func WriteHTML(w io.Writer, rep *Source) error {
	page := htmlPage{Source: rep.Dir, Archive: rep.Kind == KindArchive, Notices: rep.Notices, Status: rep.Status() + ".",
		Intact: rep.Intact(), Trusted: rep.Trusted(), Checkpoint: rep.CheckpointLine(),
		Generated: time.Now().UTC().Format("2006-01-02 15:04 MST"), CSS: template.CSS(pageCSS)}
	for _, p := range rep.Verification.Problems {
		page.Problems = append(page.Problems, clean(p.String(), false))
	}
	page.Title = "Security test report"
	if page.Archive {
		tot := totals(rep)
		page.Title = fmt.Sprintf("Security test report: %d runs", len(rep.Runs))
		page.RunCounts = runStates(tot)
		page.CaseCounts = chips(tot.Cases)
	}
	for _, run := range rep.Runs {
		hr := htmlRunOf(run)
		page.Runs = append(page.Runs, hr)
		if !page.Archive {
			page.Title = fmt.Sprintf("Security test report: %s: %s", hr.Model, hr.Word)
		}
	}
	if err := pageTemplate.Execute(w, page); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}

type htmlPage struct {
	Title, Source, Generated string
	Status, Checkpoint       string
	Intact, Trusted          bool
	Problems                 []string
	Archive                  bool
	RunCounts                string
	CaseCounts               []chip
	Notices                  []string
	Runs                     []htmlRun
	CSS                      template.CSS
}

type chip struct {
	Word  string
	Class string
	N     int
}

type htmlRun struct {
	Anchor, ID, Word, Class, Headline    string
	Model, Serial, Firmware, FirmwareSHA string
	Fixture, Bench, When, Took, Clock    string
	Declaration, Software                string
	Reason                               string
	Clean                                bool // sealed, verified, and no check found a problem or stayed undecided
	Counts                               []chip
	Problems                             []htmlSentence
	Undecided                            []htmlSentence
	Notices                              []string
	Timeline                             template.HTML
	Cases                                []htmlCase
	Evidence                             []string  // for a run without a record
	LastLines                            []Excerpt // for a run without a record
}

type htmlSentence struct {
	Anchor, Class, Text, Refs string
	Title                     string // the check's title, for the archive's table
}

type htmlCase struct {
	Anchor, ID, Suite, Title, Word, Class, Reason string
	Duration                                      string
	Refs                                          []refGroup
	Timeline                                      template.HTML
	Excerpts                                      []Excerpt
	Open                                          bool
	OtherEvidence                                 []string
}

func htmlRunOf(run *Run) htmlRun {
	hr := htmlRun{Anchor: "run-" + run.ID, ID: run.ID, Word: bannerWord(run), Headline: headline(run),
		Fixture: run.Fixture, Bench: run.Bench, Notices: run.AllNotices()}
	// What the page keeps of the evidence is small (excerpts, pictures):
	// the files themselves can go once this run is drawn.
	defer run.release()
	switch {
	case run.State == StateSealed:
		hr.Class = vclass(run.Verdict())
	case run.State == StateTampered:
		hr.Class = "v-TAMPERED"
	case run.Verdict() == results.Fail:
		hr.Class = "v-FAIL"
	default:
		hr.Class = "v-INCOMPLETE"
	}
	if !run.Opened.IsZero() {
		hr.When = run.Opened.UTC().Format("2006-01-02 15:04 MST")
	}
	tl := newTimeline(run)
	if tl != nil {
		hr.Timeline = template.HTML(tl.svg(nil))
	}
	rec := run.Record
	if rec == nil {
		hr.Model = "unknown device"
		hr.LastLines = LastLines(run)
		for _, ev := range run.Evidence() {
			hr.Evidence = append(hr.Evidence, fmt.Sprintf("%s (%s, %d bytes)", clean(ev.Path, false), ev.Kind, ev.Size))
		}
		return hr
	}
	hr.Model, hr.Serial, hr.Firmware, hr.FirmwareSHA = clean(rec.Device.Model, false), clean(rec.Device.Serial, false),
		clean(rec.Device.Firmware.Version, false), rec.Device.Firmware.SHA256
	hr.Declaration = clean(rec.Declarations.Name, false)
	hr.Software = clean(benchSoftware(rec.Bench), false)
	hr.Reason = clean(rec.Reason, true)
	hr.When = rec.Started.UTC().Format("2006-01-02 15:04 MST")
	hr.Took = humanDuration(rec.Finished.Sub(rec.Started))
	if !rec.Clock.Synchronized {
		hr.Clock = "The bench clock was not synchronised, so these times may be wrong (" + clean(rec.Clock.Detail, false) + ")."
	}
	hr.Counts = chips(statedCounts(run))
	for i, c := range casesBySeverity(rec.Cases) {
		hc := htmlCase{Anchor: fmt.Sprintf("%s-case-%d", hr.Anchor, i), ID: clean(c.ID, false), Suite: clean(c.Suite, false),
			Title: clean(c.Title, false), Word: verdictWord(run.CaseVerdict(c)), Class: vclass(run.CaseVerdict(c)),
			Reason: clean(c.Reason, true), Refs: cleanRefs(c.References),
			Open: c.Verdict != results.Pass && c.Verdict != results.NotApplicable}
		if c.Timing.DurationNs > 0 {
			hc.Duration = fmt.Sprintf("%.1f s", float64(c.Timing.DurationNs)/1e9)
		}
		if _, ok := verdictTime(c); ok && tl != nil {
			hc.Timeline = template.HTML(tl.svg(c))
		}
		hc.Excerpts = Excerpts(run, c)
		for _, ref := range c.Evidence {
			ev := run.EvidenceFile(ref.Path)
			if ev != nil && ev.Kind == results.KindTranscript {
				continue
			}
			desc := ref.Path
			if ev == nil {
				desc += " (not in the record's evidence list)"
			} else {
				desc += fmt.Sprintf(" (%s, %d bytes)", ev.Kind, ev.Size)
				for _, n := range ev.Notices {
					desc += "; " + n
				}
			}
			if ref.Note != "" {
				desc += ": " + ref.Note
			}
			hc.OtherEvidence = append(hc.OtherEvidence, clean(desc, false))
		}
		hr.Cases = append(hr.Cases, hc)
		s := htmlSentence{Anchor: hc.Anchor, Class: hc.Class, Text: clean(sentence(c), false), Refs: clean(referenceLine(c.References), false), Title: hc.Title}
		switch c.Verdict {
		case results.Fail:
			hr.Problems = append(hr.Problems, s)
		case results.Error, results.Inconclusive, results.NotRun:
			hr.Undecided = append(hr.Undecided, s)
		}
	}
	v := run.Verdict()
	hr.Clean = run.State == StateSealed && run.Stated() && (v == results.Pass || v == results.NotApplicable) &&
		len(hr.Problems) == 0 && len(hr.Undecided) == 0
	return hr
}

func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return ""
	case d < time.Second:
		return "under 1 s"
	case d < time.Minute:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}

func cleanRefs(r results.References) []refGroup {
	gs := referenceGroups(r)
	for i := range gs {
		ids := make([]string, len(gs[i].IDs))
		for j, id := range gs[i].IDs {
			ids[j] = clean(id, false)
		}
		gs[i].IDs = ids
	}
	return gs
}

func chips(m map[results.Verdict]int) []chip {
	var out []chip
	for _, v := range displayVerdicts {
		if m[v] > 0 {
			out = append(out, chip{Word: verdictWord(v), Class: vclass(v), N: m[v]})
		}
	}
	return out
}

// vclass is the CSS class of a verdict's colour; "" (not stated) is grey.
func vclass(v results.Verdict) string {
	if v == "" {
		return "v-UNSTATED"
	}
	return "v-" + string(v)
}

// pageCSS is built from verdictColour so the page and its timelines agree.
var pageCSS = func() string {
	var b strings.Builder
	b.WriteString(baseCSS)
	for v, c := range verdictColour {
		fmt.Fprintf(&b, ".%s{--vc:%s}\n", vclass(v), c)
	}
	b.WriteString(".v-INCOMPLETE{--vc:#37474f}\n")
	b.WriteString(".v-TAMPERED{--vc:#6a1b9a}\n")
	return b.String()
}()

const baseCSS = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d1d1f;background:#f3f4f6}
main{max-width:1100px;margin:0 auto;padding:16px}
header.doc{color:#555;font-size:13px;margin:4px 0 12px}
h1{font-size:22px;margin:8px 0}
h2{font-size:18px;margin:22px 0 8px}
h3{font-size:16px;margin:0}
section.run,section.archive{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:0 0 16px;margin:0 0 28px;overflow:hidden}
section.archive{padding:16px}
.run>.body{padding:0 20px}
.banner{background:var(--vc);color:#fff;padding:18px 20px;display:flex;align-items:center;gap:24px;flex-wrap:wrap}
.banner .word{font-size:46px;font-weight:800;letter-spacing:.02em;line-height:1}
.banner .headline{font-size:19px;font-weight:500;flex:1;min-width:280px}
.device{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:4px 24px;margin:16px 0 8px}
.device div{padding:4px 0;border-bottom:1px solid #eee}
.device .k{display:block;color:#666;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.device .val{font-size:17px;font-weight:600;word-break:break-all}
.trace{color:#555;font-size:12.5px;margin:4px 0 8px;overflow-wrap:anywhere}
.trace code{font-size:11.5px;word-break:break-all}
a.more{font-size:13px;white-space:nowrap}
.chips{display:flex;flex-wrap:wrap;align-items:center;gap:8px;margin:12px 0}
.chip{border:2px solid var(--vc);color:var(--vc);border-radius:999px;padding:2px 12px;font-weight:700;background:#fff}
.chip b{font-size:18px;margin-right:4px}
.badge{display:inline-block;background:var(--vc);color:#fff;border-radius:4px;padding:1px 8px;font-weight:700;font-size:13px;white-space:nowrap}
ul.sentences{list-style:none;padding:0;margin:0}
ul.sentences li{border-left:6px solid var(--vc);background:#fafafa;padding:8px 12px;margin:6px 0;font-size:16px}
ul.sentences .refs{display:block;color:#555;font-size:13px}
.notice{background:#fff4e5;border-left:6px solid #e65100;padding:8px 12px;margin:8px 0}
.warn{color:#8a4b00}
.ok{color:#1e7e34}
section.alarm{background:#b71c1c;color:#fff;border-radius:10px;padding:14px 20px;margin:8px 0 20px;overflow-wrap:anywhere}
section.alarm h1{font-size:22px;margin:0 0 6px}
section.alarm ul{margin:0;padding-left:20px;font-size:14px}
svg.timeline{width:100%;height:auto;display:block;background:#fff;border:1px solid #e5e7eb;border-radius:6px;margin:8px 0}
article.case{border:1px solid #e5e7eb;border-left:8px solid var(--vc);border-radius:6px;padding:12px 16px;margin:12px 0}
article.case .id{color:#666;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;margin-left:6px}
article.case .reason{font-size:15px;margin:8px 0;white-space:pre-wrap}
table{border-collapse:collapse}
table.refs td,table.refs th{padding:2px 12px 2px 0;text-align:left;vertical-align:top;font-size:14px}
table.refs th{color:#555;font-weight:500;white-space:nowrap}
table.runs{width:100%}
table.runs th,table.runs td{padding:6px 8px;border-bottom:1px solid #e5e7eb;text-align:left;font-size:14px}
table.runs th{background:#f3f4f6}
table.runs td.found a{display:block;color:var(--vc);font-weight:600;text-decoration:none}
table.runs td.found .none{color:#666}
.nw{white-space:nowrap}
details{margin:8px 0}
summary{cursor:pointer;font-weight:600}
.excerpt{background:#0f172a;color:#e2e8f0;border-radius:6px;padding:8px 10px;font:12.5px/1.45 ui-monospace,Menlo,Consolas,monospace;overflow-x:auto;margin:6px 0}
.excerpt .l{white-space:pre-wrap;word-break:break-all}
.excerpt .t{color:#94a3b8;display:inline-block;min-width:90px}
.excerpt .k{display:inline-block;min-width:48px;font-weight:700}
.excerpt .rx .k{color:#7dd3fc}.excerpt .tx .k{color:#fdba74}.excerpt .event .k{color:#fca5a5}.excerpt .power .k{color:#86efac}
.excerpt .mark{border-top:1px dashed #fde047;color:#fde047;margin:2px 0}.excerpt .mark .k{color:#fde047}
.excerpt .tx .x{color:#fed7aa}.excerpt .event .x,.excerpt .power .x{color:#cbd5e1;font-style:italic}
.muted{color:#666;font-size:13px}
a{color:#0b5cad}
@media print{body{background:#fff}section.run{box-shadow:none;border:1px solid #ccc}details{display:block}}
`

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{"offset": offset, "sentenceCase": sentenceCase}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
{{- if not .Intact}}
<section class="alarm" role="alert"><h1>{{.Status}}</h1>
<ul>{{range .Problems}}<li>{{.}}</li>{{end}}</ul></section>
{{- end}}
<header class="doc">certbench security test report · {{.Source}} · generated {{.Generated}}
{{- if .Intact}}<br><span class="{{if .Trusted}}ok{{else}}warn{{end}}">{{.Status}}</span>{{end}}
{{- if .Checkpoint}}<br><span class="muted">{{.Checkpoint}}</span>{{end}}</header>
{{- if .Archive}}
<section class="archive">
<h1>{{len .Runs}} runs{{if .RunCounts}}: {{.RunCounts}}{{end}}</h1>
{{- if .CaseCounts}}<div class="chips"><span class="muted">Checks across all runs:</span> {{range .CaseCounts}}<span class="chip {{.Class}}"><b>{{.N}}</b>{{.Word}}</span>{{end}}</div>{{end}}
{{- range .Notices}}<p class="notice">{{sentenceCase .}}</p>{{end}}
{{- if .Runs}}
<table class="runs">
<tr><th>Verdict</th><th>Device</th><th>Problems found</th><th>Serial</th><th>Firmware</th><th>Fixture</th><th>When</th><th>Checks</th></tr>
{{- range .Runs}}
<tr><td><a href="#{{.Anchor}}"><span class="badge {{.Class}}">{{.Word}}</span></a></td><td class="nw"><a href="#{{.Anchor}}">{{.Model}}</a></td>
<td class="found">{{range .Problems}}<a class="{{.Class}}" href="#{{.Anchor}}">Failed: {{.Title}}</a>{{end}}{{range .Undecided}}<a class="{{.Class}}" href="#{{.Anchor}}">Not decided: {{.Title}}</a>{{end}}{{if .Clean}}<span class="none">None</span>{{else if not (or .Problems .Undecided)}}<span class="muted">—</span>{{end}}</td><td class="nw">{{.Serial}}</td><td class="nw">{{.Firmware}}</td><td class="nw">{{.Fixture}}</td><td class="nw">{{.When}}</td><td>{{range .Counts}}<span class="badge {{.Class}}">{{.N}} {{.Word}}</span> {{end}}</td></tr>
{{- end}}
</table>
{{- end}}
</section>
{{- end}}
{{- range .Runs}}
<section class="run {{.Class}}" id="{{.Anchor}}">
<div class="banner"><div class="word">{{.Word}}</div><div class="headline">{{.Headline}}</div></div>
<div class="body">
<div class="device">
<div><span class="k">Device</span><span class="val">{{.Model}}</span></div>
<div><span class="k">Serial number</span><span class="val">{{or .Serial "—"}}</span></div>
<div><span class="k">Firmware</span><span class="val">{{or .Firmware "—"}}</span></div>
<div><span class="k">Tested</span><span class="val nw">{{or .When "—"}}</span>{{if .Took}} <span class="muted nw">· took {{.Took}}</span>{{end}}</div>
</div>
<p class="trace">Run {{.ID}} · bench {{or .Bench "—"}}, fixture {{or .Fixture "—"}}
{{- if .Declaration}} · declarations {{.Declaration}}{{end}}
{{- if .Software}} · {{.Software}}{{end}}
{{- if .FirmwareSHA}} · firmware SHA-256 <code>{{.FirmwareSHA}}</code>{{end}}
{{- if .Clock}}<br><span class="warn">{{.Clock}}</span>{{end}}</p>
{{- if .Counts}}<div class="chips">{{range .Counts}}<span class="chip {{.Class}}"><b>{{.N}}</b>{{.Word}}</span>{{end}}</div>{{end}}
{{- if .Reason}}<p class="notice">The run ended early: {{.Reason}}</p>{{end}}
{{- range .Notices}}<p class="notice">{{sentenceCase .}}</p>{{end}}
{{- if .Problems}}
<h2>Problems found</h2>
<ul class="sentences">{{range .Problems}}<li class="{{.Class}}">{{.Text}} <a class="more" href="#{{.Anchor}}">details</a><span class="refs">{{.Refs}}</span></li>{{end}}</ul>
{{- end}}
{{- if .Undecided}}
<h2>Not decided</h2>
<ul class="sentences">{{range .Undecided}}<li class="{{.Class}}">{{.Text}} <a class="more" href="#{{.Anchor}}">details</a><span class="refs">{{.Refs}}</span></li>{{end}}</ul>
{{- end}}
{{- if .Timeline}}
<h2>Timeline</h2>
{{.Timeline}}
{{- end}}
{{- if .Cases}}
<h2>Checks</h2>
{{- range .Cases}}
{{- $open := .Open}}
<article class="case {{.Class}}" id="{{.Anchor}}">
<h3><span class="badge {{.Class}}">{{.Word}}</span> {{.Title}}<span class="id">{{.ID}}</span></h3>
{{- if .Reason}}<p class="reason">{{.Reason}}</p>{{end}}
<table class="refs">
{{- range .Refs}}<tr><th>{{.Doc}}</th><td>{{range $i, $id := .IDs}}{{if $i}}, {{end}}{{$id}}{{end}}</td></tr>{{end}}
<tr><th>Suite</th><td>{{.Suite}}{{if .Duration}} · ran {{.Duration}}{{end}}</td></tr>
</table>
{{- if .Timeline}}{{.Timeline}}{{end}}
{{- range .OtherEvidence}}<p class="muted">Evidence: {{.}}</p>{{end}}
{{- if and (not .Excerpts) .Open}}<p class="muted">No console excerpt: the record names no transcript for this check{{if not .Timeline}} and gives no time for its verdict{{end}}.</p>{{end}}
{{- range .Excerpts}}
<details{{if $open}} open{{end}}>
<summary>Console {{.Path}}: {{.What}}</summary>
{{- template "excerpt" .}}
</details>
{{- end}}
</article>
{{- end}}
{{- end}}
{{- if .Evidence}}{{if not .Cases}}
<h2>Evidence found</h2>
<ul>{{range .Evidence}}<li>{{.}}</li>{{end}}</ul>
{{- end}}{{end}}
{{- range .LastLines}}
<details open>
<summary>Console {{.Path}}: {{.What}}</summary>
{{- template "excerpt" .}}
</details>
{{- end}}
</div>
</section>
{{- end}}
</main>
</body>
</html>
{{- define "excerpt"}}
{{- range .Notices}}<p class="notice">{{sentenceCase .}}</p>{{end}}
<div class="excerpt">
{{- if .Omitted}}<div class="l muted">({{.Omitted}} earlier lines not shown)</div>{{end}}
{{- range .Lines}}<div class="l {{.Kind}}"><span class="t">{{offset .MonoNs}}</span><span class="k">{{.Kind}}</span><span class="x">{{.Text}}</span></div>{{else}}<div class="l muted">No console lines in this window.</div>{{end}}
</div>
{{- end}}
`))
