package fleet

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/certbench/certbench/fixtures"
	"github.com/certbench/certbench/results"
)

// sealedRun seals a run with one large evidence file (several chunks) in
// the archive at dir and returns its id and the file's bytes.
func sealedRun(t *testing.T, dir string, key crypto.Signer) (string, []byte) {
	t.Helper()
	a, err := results.OpenArchive(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.Begin(results.Meta{Bench: "big", Fixture: "cam-1"})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 3*ChunkSize+123)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(data)
	if err := r.AddEvidence("capture.bin", results.KindAttachment, data); err != nil {
		t.Fatal(err)
	}
	rec := &results.Record{Bench: results.Bench{Name: "big"}, Fixture: results.Fixture{Name: "cam-1"}, Device: results.Device{Model: "m"}, Declarations: results.Declarations{Name: "d.yaml", SHA256: sha([]byte("d"))},
		Cases: []results.Case{{ID: "s/c", Suite: "s", Title: "t", Verdict: results.Pass, References: results.References{EN303645: []string{"5.6-4A"}}}}}
	if err := r.Seal(rec, key); err != nil {
		t.Fatal(err)
	}
	return r.ID(), data
}

// TestOutboxFromBeforeTheStart: a run left in the outbox by an agent that
// stopped before sending it (the broker was away) is delivered when the
// next agent starts, its evidence in chunks, byte for byte.
func TestOutboxFromBeforeTheStart(t *testing.T) {
	srv, err := Embed("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	b := &fixtures.Bench{ID: "big", Path: filepath.Join(dir, "bench.yaml"), Archive: filepath.Join(dir, "archive"),
		Fixtures: []*fixtures.Fixture{{Name: "cam-1"}}}
	key := newKey(t)
	run, data := sealedRun(t, b.Archive, key)
	out, err := openOutbox(filepath.Join(dir, ".fleet", "outbox"))
	if err != nil {
		t.Fatal(err)
	}
	if err := out.add(entry{Kind: entryRun, Job: "j-1", Run: run}); err != nil {
		t.Fatal(err)
	}
	w := controller(t, srv.URL(), "", map[string][]crypto.PublicKey{"big": {key.Public()}}, "big")
	sent := make(chan entry, 1)
	agentWith(t, b, srv.URL(), key, func(a *Agent) { a.sent = func(e entry) { sent <- e } })
	r := w.record(t)
	if !r.OK() || r.Delivery.Run != run || r.Delivery.Job != "j-1" {
		t.Fatalf("delivery: %+v ok=%v %v", r.Delivery.Run, r.OK(), r.Problems)
	}
	if len(r.Delivery.Evidence) != 1 || r.Delivery.Evidence[0].Chunks != 4 {
		t.Fatalf("evidence sent as %+v, want one file in 4 chunks", r.Delivery.Evidence)
	}
	got, err := os.ReadFile(filepath.Join(r.Dir, "evidence", "capture.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored evidence differs (%d bytes, want %d): %v", len(got), len(data), err)
	}
	// The entry leaves the outbox once the broker has all of it.
	if e := <-sent; e.Run != run {
		t.Fatalf("sent %+v", e)
	}
	if es, err := out.list(); err != nil || len(es) != 0 {
		t.Fatalf("outbox after the delivery: %v %v", es, err)
	}
}

// TestControllerAssemblesInAnyOrder: chunks and the delivery may come in
// any order and twice; the run is stored and handed on once, and a chunk
// that was changed on the way fails the run.
func TestControllerAssemblesInAnyOrder(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	run, data := sealedRun(t, filepath.Join(dir, "archive"), key)
	// What the agent would send, from the archive.
	rd := filepath.Join(dir, "archive", "runs", run)
	read := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join(rd, n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cp, _ := os.ReadFile(filepath.Join(dir, "archive", "checkpoint.dsse.json"))
	pub, _ := results.MarshalPublicKey(key.Public())
	d := &Delivery{Version: 1, Bench: "big", Run: run, Fixture: "cam-1", Verdict: results.Pass,
		Record: read("record.json"), Envelope: read("record.dsse.json"), Inclusion: read("inclusion.json"), Checkpoint: cp, PublicKey: pub}
	var chunks []*Chunk
	n := (len(data) + ChunkSize - 1) / ChunkSize
	for i := range n {
		chunks = append(chunks, &Chunk{Version: 1, Bench: "big", Run: run, Name: "capture.bin", Index: i, Count: n, Offset: int64(i * ChunkSize),
			Data: data[i*ChunkSize : min(len(data), (i+1)*ChunkSize)]})
	}
	d.Evidence = []EvidenceFile{{Name: "capture.bin", Size: int64(len(data)), SHA256: sha(data), Chunks: n}}

	var got []Received
	c := &Controller{Store: filepath.Join(dir, "store"), BenchKeys: map[string][]crypto.PublicKey{"big": {key.Public()}},
		OnRecord: func(r Received) { got = append(got, r) }, pending: map[string]*pendingRun{}, cps: map[string]results.Checkpoint{}}
	c.delivery(d)
	c.chunk(chunks[2])
	c.chunk(chunks[0])
	c.chunk(chunks[0])
	c.chunk(chunks[3])
	if len(got) != 0 {
		t.Fatal("stored before every chunk was in")
	}
	c.chunk(chunks[1])
	for _, ch := range chunks { // sent again after an outage
		c.chunk(ch)
	}
	c.delivery(d)
	if len(got) != 1 || !got[0].OK() {
		t.Fatalf("received %d times, ok=%v", len(got), len(got) == 1 && got[0].OK())
	}
	if c.Duplicates() != 1 {
		t.Fatalf("duplicates %d, want 1", c.Duplicates())
	}

	// A chunk changed on the way: the run does not verify.
	c2 := &Controller{Store: filepath.Join(dir, "store2"), BenchKeys: c.BenchKeys,
		OnRecord: func(r Received) { got = append(got, r) }, pending: map[string]*pendingRun{}, cps: map[string]results.Checkpoint{}}
	bad := *chunks[1]
	bad.Data = bytes.Clone(bad.Data)
	bad.Data[7] ^= 1
	c2.chunk(chunks[0])
	c2.chunk(&bad)
	c2.chunk(chunks[2])
	c2.chunk(chunks[3])
	c2.delivery(d)
	if r := got[len(got)-1]; r.OK() {
		t.Fatal("a run with a changed chunk verified")
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
