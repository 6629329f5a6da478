package fleet

import (
	"crypto"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/certbench/certbench/results"
)

// TestFiftyBenches: 50 benches (one simulated unit each, all in one lab)
// on one embedded broker, one controller; each gets a job at once and
// every record comes back verified. It logs the dispatch latency: from the
// controller sending a job to the bench accepting it (the bench's event
// time; one host, one clock).
func TestFiftyBenches(t *testing.T) {
	if testing.Short() {
		t.Skip("50 simulated units: not with -short")
	}
	srv, err := Embed("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() }) // after the agents' own cleanups
	const n = 50
	// A slower clock than the other tests': 50 units booting at once on a
	// small machine must not miss the profile's boot timeout.
	t0 := time.Now()
	benches := labScaled(t, "many", n, nil, 0.1)
	t.Logf("lab of %d units up in %s", n, time.Since(t0).Round(time.Millisecond))
	ctrl := newKey(t)
	keys := map[string][]crypto.PublicKey{}
	var ids []string
	for _, b := range benches {
		k := newKey(t)
		keys[b.ID] = []crypto.PublicKey{k.Public()}
		ids = append(ids, b.ID)
		agent(t, b, srv.URL(), k, ctrl.Public())
	}
	w := controller(t, srv.URL(), "", keys, ids...)
	t.Logf("%d agents up in %s", n, time.Since(t0).Round(time.Millisecond))
	sent := map[string]time.Time{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, b := range benches {
		j := job(b.ID)
		wg.Go(func() {
			mu.Lock()
			sent[j.ID] = time.Now()
			mu.Unlock()
			if err := w.c.Submit(t.Context(), ctrl, j); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var lat []time.Duration
	records := map[string]bool{}
	for len(records) < n || len(lat) < n {
		select {
		case e := <-w.events:
			switch e.Kind {
			case EventAccepted:
				mu.Lock()
				lat = append(lat, e.Time.Sub(sent[e.Job]))
				mu.Unlock()
			case EventRefused:
				t.Fatalf("bench %s refused job %s: %s", e.Bench, e.Job, e.Reason)
			}
		case r := <-w.records:
			if !r.OK() || r.Record.Verdict != results.Pass {
				t.Fatalf("bench %s run %s: verdict %s ok %v %v: %s %+v", r.Delivery.Bench, r.Delivery.Run, r.Record.Verdict, r.OK(), r.Problems, r.Record.Reason, r.Record.Cases)
			}
			records[r.Delivery.Bench] = true
		case <-time.After(3 * time.Minute):
			t.Fatalf("%d of %d records, %d of %d accepted", len(records), n, len(lat), n)
		}
	}
	t.Logf("every record in after %s", time.Since(t0).Round(time.Millisecond))
	slices.Sort(lat)
	t.Logf("dispatch latency, %d benches: p50 %s, p99 %s, max %s", n, lat[n/2], lat[(n*99+99)/100-1], lat[n-1])
}

// BenchmarkDispatch50: with 50 benches connected (each a simulated unit),
// jobs go out one at a time, round the benches; each is timed from the
// controller sending it to the bench's job-accepted event. Run with
// -benchtime=50x so that each bench gets one job (more queue on the
// fixtures, which is fine: the job is accepted before it waits).
func BenchmarkDispatch50(b *testing.B) {
	srv, err := Embed("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	const n = 50
	benches := labScaled(b, "bdisp", n, nil, 0.1)
	ctrl := newKey(b)
	keys := map[string][]crypto.PublicKey{}
	var ids []string
	for _, bn := range benches {
		k := newKey(b)
		keys[bn.ID] = []crypto.PublicKey{k.Public()}
		ids = append(ids, bn.ID)
		agent(b, bn, srv.URL(), k, ctrl.Public())
	}
	w := controller(b, srv.URL(), "", keys, ids...)
	var lat []time.Duration
	i := 0
	for b.Loop() {
		j := job(benches[i%n].ID)
		j.Busy = BusyWait
		i++
		sent := time.Now()
		if err := w.c.Submit(b.Context(), ctrl, j); err != nil {
			b.Fatal(err)
		}
		e := w.until(b, j.ID, EventAccepted)
		lat = append(lat, e.Time.Sub(sent))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99+99)/100-1].Microseconds())/1000, "p99-ms")
}
