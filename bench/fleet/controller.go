package fleet

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/certbench/certbench/results"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Controller sends jobs to benches and receives what they send: their
// status, events and records. Received records are stored under Store, one
// folder per bench laid out as an archive's runs (STORE/BENCH/runs/RUN_ID),
// verified on arrival, and deduplicated by run id: a record the bench sends
// again (after a broker outage or an agent restart) is recognised and
// dropped.
type Controller struct {
	Broker   Broker
	Prefix   string // "": DefaultPrefix
	ClientID string // "": a random one; give a stable one for a persistent session
	// Forget ends the persistent session at Close (a client id used once,
	// as bench submit's per job), so the broker does not keep it for ever.
	Forget bool
	Store  string // folder of received runs; "": records are not stored
	// BenchKeys are the public keys trusted to sign each bench's records,
	// by bench id. A bench without one is verified with the key it sent,
	// which shows only that the record is intact (Received.Trusted false).
	BenchKeys map[string][]crypto.PublicKey
	Logf      func(format string, args ...any)

	// Called on the controller's own goroutine, in the order messages came.
	OnStatus func(Status)
	OnEvent  func(Event)
	OnRecord func(Received)

	s       *session
	q       chan func()
	mu      sync.Mutex
	pending map[string]*pendingRun
	cps     map[string]results.Checkpoint // newest checkpoint seen per bench
	dups    int
	done    chan struct{}
}

// Received is a delivered run, stored and verified.
type Received struct {
	Delivery *Delivery
	Record   *results.Record
	Dir      string          // where it is stored
	Report   *results.Report // results.Verify of the run's folder
	Trusted  bool            // verified with a key from BenchKeys
	// Problems are what is wrong beyond the run's folder: a checkpoint
	// smaller than one the bench sent before (its newest runs removed).
	Problems []string
}

// OK says the run verified, with a trusted key, and nothing is wrong.
func (r Received) OK() bool {
	return r.Report != nil && r.Report.Intact() && r.Trusted && len(r.Problems) == 0
}

type pendingRun struct {
	chunks map[string]map[int][]byte
	d      *Delivery
}

// Connect connects to the broker. Close ends it.
func (c *Controller) Connect(ctx context.Context) error {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if err := checkPrefix(c.Prefix); err != nil {
		return err
	}
	clean := false
	if c.ClientID == "" {
		var b [6]byte
		rand.Read(b[:])
		c.ClientID = "certbench-controller-" + hex.EncodeToString(b[:])
		clean = true
	}
	c.q = make(chan func(), 1<<16)
	c.pending = map[string]*pendingRun{}
	c.cps = map[string]results.Checkpoint{}
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		for f := range c.q {
			f()
		}
	}()
	s, err := dial(ctx, c.Broker, c.ClientID, clean, nil, c.logf)
	if err != nil {
		close(c.q)
		return err
	}
	c.s = s
	return nil
}

// Close disconnects and waits for the messages received to be handled.
func (c *Controller) Close() {
	if c.s != nil {
		c.s.close()
		if c.Forget {
			// A clean-session connect under the same id discards the
			// session the broker kept (MQTT 3.1.1, 3.1.2.4).
			o := mqtt.NewClientOptions().AddBroker(c.Broker.URL).SetClientID(c.ClientID).SetCleanSession(true).
				SetUsername(c.Broker.Username).SetPassword(c.Broker.Password).SetConnectTimeout(5 * time.Second)
			if tc, err := c.Broker.TLS(); err == nil && tc != nil {
				o.SetTLSConfig(tc)
			}
			cl := mqtt.NewClient(o)
			if t := cl.Connect(); t.WaitTimeout(5*time.Second) && t.Error() == nil {
				cl.Disconnect(0)
			}
		}
	}
	close(c.q)
	<-c.done
}

// Duplicates is how many records were received again and dropped.
func (c *Controller) Duplicates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dups
}

func (c *Controller) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// handler hands a message to the controller's goroutine: paho's router
// never waits for a file to be written or a record verified.
func (c *Controller) handler(fn func(topic string, b []byte)) mqtt.MessageHandler {
	return func(_ mqtt.Client, m mqtt.Message) {
		topic, b := m.Topic(), slices0(m.Payload())
		select {
		case c.q <- func() { fn(topic, b) }:
		default:
			go func() { c.q <- func() { fn(topic, b) } }()
		}
	}
}

func slices0(b []byte) []byte { return append([]byte(nil), b...) }

// WatchAll follows every bench's status.
func (c *Controller) WatchAll(ctx context.Context) error {
	return c.s.subscribe(ctx, AllStatus(c.Prefix), c.handler(func(topic string, b []byte) {
		var st Status
		if err := decode(SchemaStatus, b, &st); err != nil {
			c.logf("%s: %v", topic, err)
			return
		}
		if c.OnStatus != nil {
			c.OnStatus(st)
		}
	}))
}

// Watch follows one bench: its status, events, records and checkpoints.
func (c *Controller) Watch(ctx context.Context, bench string) error {
	t := Topics{Prefix: c.Prefix, Bench: bench}
	subs := map[string]func(string, []byte){
		t.Status(): func(topic string, b []byte) {
			var st Status
			if err := decode(SchemaStatus, b, &st); err != nil {
				c.logf("%s: %v", topic, err)
			} else if c.OnStatus != nil {
				c.OnStatus(st)
			}
		},
		t.Event(): func(topic string, b []byte) {
			var e Event
			if err := decode(SchemaEvent, b, &e); err != nil {
				c.logf("%s: %v", topic, err)
			} else if c.OnEvent != nil {
				c.OnEvent(e)
			}
		},
		t.Evidence(): func(topic string, b []byte) {
			var ch Chunk
			if err := decode(SchemaChunk, b, &ch); err != nil {
				c.logf("%s: %v", topic, err)
				return
			}
			c.chunk(&ch)
		},
		t.Record(): func(topic string, b []byte) {
			var d Delivery
			if err := decode(SchemaDelivery, b, &d); err != nil {
				c.logf("%s: %v", topic, err)
				return
			}
			c.delivery(&d)
		},
		t.Checkpoint(): func(topic string, b []byte) {
			var m CheckpointMessage
			if err := decode(SchemaCheckpoint, b, &m); err != nil {
				c.logf("%s: %v", topic, err)
				return
			}
			if p := c.checkpoint(m.Bench, m.Checkpoint, nil); p != "" {
				c.logf("bench %s: %s", m.Bench, p)
			}
		},
	}
	for topic, fn := range subs {
		if err := c.s.subscribe(ctx, topic, c.handler(fn)); err != nil {
			return fmt.Errorf("subscribe %s: %w", topic, err)
		}
	}
	return nil
}

// Submit signs j with key and publishes it on its bench's job topic.
func (c *Controller) Submit(ctx context.Context, key crypto.Signer, j *Job) error {
	msg, err := SignJob(key, j)
	if err != nil {
		return err
	}
	return c.Publish(ctx, Topics{Prefix: c.Prefix, Bench: j.Bench}.Job(), msg)
}

// Publish sends raw bytes on a topic (a test's forged job).
func (c *Controller) Publish(ctx context.Context, topic string, msg []byte) error {
	return c.s.publish(ctx, topic, false, msg)
}

func (c *Controller) runDir(bench, run string) string {
	return filepath.Join(c.Store, bench, "runs", run)
}

func (c *Controller) stored(bench, run string) bool {
	if c.Store == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(c.runDir(bench, run), "record.dsse.json"))
	return err == nil
}

func (c *Controller) chunk(ch *Chunk) {
	if c.stored(ch.Bench, ch.Run) {
		return
	}
	p := c.pendingFor(ch.Bench, ch.Run)
	m := p.chunks[ch.Name]
	if m == nil {
		m = map[int][]byte{}
		p.chunks[ch.Name] = m
	}
	m[ch.Index] = ch.Data
	c.complete(ch.Bench, ch.Run)
}

func (c *Controller) pendingFor(bench, run string) *pendingRun {
	k := bench + "/" + run
	p := c.pending[k]
	if p == nil {
		p = &pendingRun{chunks: map[string]map[int][]byte{}}
		c.pending[k] = p
	}
	return p
}

func (c *Controller) delivery(d *Delivery) {
	if c.stored(d.Bench, d.Run) {
		c.mu.Lock()
		c.dups++
		c.mu.Unlock()
		return
	}
	p := c.pendingFor(d.Bench, d.Run)
	if p.d != nil {
		c.mu.Lock()
		c.dups++
		c.mu.Unlock()
	}
	p.d = d
	c.complete(d.Bench, d.Run)
}

// complete stores and verifies a run once its delivery and every chunk
// it names are in.
func (c *Controller) complete(bench, run string) {
	k := bench + "/" + run
	p := c.pending[k]
	if p == nil || p.d == nil {
		return
	}
	files := map[string][]byte{}
	for _, f := range p.d.Evidence {
		var buf bytes.Buffer
		for i := range f.Chunks {
			part, ok := p.chunks[f.Name][i]
			if !ok {
				return // more to come
			}
			buf.Write(part)
		}
		files[f.Name] = buf.Bytes()
	}
	delete(c.pending, k)
	r := c.store(p.d, files)
	if c.OnRecord != nil {
		c.OnRecord(r)
	}
}

func (c *Controller) store(d *Delivery, files map[string][]byte) Received {
	r := Received{Delivery: d}
	keys := c.BenchKeys[d.Bench]
	r.Trusted = len(keys) > 0
	if !r.Trusted {
		pub, err := results.ParsePublicKey(d.PublicKey)
		if err != nil {
			r.Problems = append(r.Problems, "the bench's public key: "+err.Error())
			return r
		}
		keys = []crypto.PublicKey{pub}
	}
	var err error
	if r.Record, err = results.ParseRecord(d.Record); err != nil {
		r.Problems = append(r.Problems, "record: "+err.Error())
	}
	if p := c.checkpoint(d.Bench, d.Checkpoint, keys); p != "" {
		r.Problems = append(r.Problems, p)
	}
	base := c.Store
	if base == "" {
		base, err = os.MkdirTemp("", "certbench-received-")
		if err != nil {
			r.Problems = append(r.Problems, err.Error())
			return r
		}
		defer os.RemoveAll(base)
	}
	tmp := filepath.Join(base, d.Bench, "tmp", d.Run)
	os.RemoveAll(tmp)
	write := func(name string, b []byte) error {
		p := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, b, 0o644)
	}
	errs := []error{write("record.json", d.Record), write("record.dsse.json", d.Envelope), write("inclusion.json", d.Inclusion)}
	for _, f := range d.Evidence {
		b := files[f.Name]
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(b)) != f.Size {
			r.Problems = append(r.Problems, fmt.Sprintf("evidence %s: the chunks do not add up to the size and SHA-256 announced", f.Name))
		}
		errs = append(errs, write(filepath.Join(results.EvidenceDir, f.Name), b))
	}
	if err := errors.Join(errs...); err != nil {
		r.Problems = append(r.Problems, "store: "+err.Error())
		return r
	}
	r.Dir = filepath.Join(base, d.Bench, "runs", d.Run)
	os.MkdirAll(filepath.Dir(r.Dir), 0o755)
	if err := os.Rename(tmp, r.Dir); err != nil {
		r.Problems = append(r.Problems, "store: "+err.Error())
		return r
	}
	if c.Store != "" && !r.Trusted {
		os.WriteFile(filepath.Join(c.Store, d.Bench, "bench.pub"), d.PublicKey, 0o644)
	}
	r.Report, err = results.Verify(r.Dir, results.VerifyOptions{Keys: keys})
	if err != nil {
		r.Problems = append(r.Problems, "verify: "+err.Error())
	}
	if c.Store == "" {
		r.Dir = ""
	}
	return r
}

// checkpoint checks a bench's checkpoint against the newest one seen from
// it and keeps it if newer. It returns a problem, or "".
func (c *Controller) checkpoint(bench string, b []byte, keys []crypto.PublicKey) string {
	if keys == nil {
		keys = c.BenchKeys[bench]
	}
	if len(keys) == 0 {
		// No key to check it with yet: a delivery brings one.
		return ""
	}
	cp, _, err := results.VerifyCheckpoint(b, keys...)
	if err != nil {
		return "the bench's checkpoint does not verify: " + err.Error()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.cps[bench]
	if !ok && c.Store != "" {
		if kept, err := os.ReadFile(filepath.Join(c.Store, bench, "checkpoint.dsse.json")); err == nil {
			if oc, _, err := results.VerifyCheckpoint(kept, keys...); err == nil {
				old, ok = oc, true
			}
		}
	}
	switch {
	case ok && old.Origin != cp.Origin:
		return fmt.Sprintf("the bench's archive is another log (%s) than before (%s): it was replaced", cp.Origin, old.Origin)
	case ok && cp.Size < old.Size:
		return fmt.Sprintf("the bench's archive went back from %d to %d index lines: its newest runs were removed", old.Size, cp.Size)
	case ok && cp.Size == old.Size && cp.Root != old.Root:
		return fmt.Sprintf("the bench's archive has two different logs of %d lines: it was rewritten", cp.Size)
	case ok && cp.Size == old.Size:
		return ""
	}
	c.cps[bench] = cp
	if c.Store != "" {
		os.MkdirAll(filepath.Join(c.Store, bench), 0o755)
		os.WriteFile(filepath.Join(c.Store, bench, "checkpoint.dsse.json"), b, 0o644)
	}
	return ""
}

// NewJobID is a fresh job id: time and randomness, so two controllers
// never pick the same one.
func NewJobID() string {
	var b [8]byte
	rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
