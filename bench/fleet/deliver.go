package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/certbench/certbench/results"
)

// drain publishes the outbox in order, for ever: an entry leaves it only
// once the broker has acknowledged all of it.
func (a *Agent) drain(ctx context.Context) {
	for {
		a.flush(ctx)
		select {
		case <-a.out.wake:
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second): // an entry that failed is tried again
		}
	}
}

// flush publishes what the outbox holds until it is empty or ctx ends.
func (a *Agent) flush(ctx context.Context) {
	es, err := a.out.list()
	if err != nil {
		a.logf("agent: %v", err)
		return
	}
	for _, e := range es {
		var err error
		switch e.Kind {
		case entryMessage:
			err = a.s.publish(ctx, e.Topic, e.Retained, e.Payload)
		case entryRun:
			err = a.deliver(ctx, e.Job, e.Run)
		default:
			err = fmt.Errorf("unknown kind %q", e.Kind)
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			a.logf("agent: deliver %s %s: %v (tried again later)", e.Kind, e.Run, err)
			return // in order: later entries wait
		}
		if err := a.out.done(e); err != nil {
			a.logf("agent: %v", err)
		} else if a.sent != nil {
			a.sent(e)
		}
	}
}

// deliver publishes one sealed run from the archive: every evidence file
// in chunks, then the delivery (record, signature, inclusion proof,
// checkpoint), then the checkpoint on its retained topic.
func (a *Agent) deliver(ctx context.Context, job, run string) error {
	dir := filepath.Join(a.Bench.Archive, "runs", run)
	rec, err := results.LoadRecord(dir)
	if err != nil {
		return err
	}
	d := Delivery{Version: Version, Bench: a.Bench.ID, Job: job, Run: run, Fixture: rec.Fixture.Name, Verdict: rec.Verdict, Evidence: []EvidenceFile{}}
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	if d.Record, err = read("record.json"); err != nil {
		return err
	}
	if d.Envelope, err = read("record.dsse.json"); err != nil {
		return err
	}
	if d.Inclusion, err = read("inclusion.json"); err != nil {
		return err
	}
	if d.Checkpoint, err = os.ReadFile(filepath.Join(a.Bench.Archive, "checkpoint.dsse.json")); err != nil {
		return err
	}
	if d.PublicKey, err = results.MarshalPublicKey(a.Key.Public()); err != nil {
		return err
	}
	for _, f := range rec.Evidence {
		data, err := read(f.Path)
		if err != nil {
			return fmt.Errorf("evidence of run %s: %w", run, err)
		}
		name := filepath.Base(f.Path)
		sum := sha256.Sum256(data)
		n := (len(data) + ChunkSize - 1) / ChunkSize
		d.Evidence = append(d.Evidence, EvidenceFile{Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Chunks: n})
		for i := range n {
			part := data[i*ChunkSize : min(len(data), (i+1)*ChunkSize)]
			c := Chunk{Version: Version, Bench: a.Bench.ID, Run: run, Name: name, Index: i, Count: n, Offset: int64(i * ChunkSize), Data: part}
			if err := a.s.publish(ctx, a.topics.Evidence(), false, marshal(c)); err != nil {
				return err
			}
		}
	}
	if err := a.s.publish(ctx, a.topics.Record(), false, marshal(d)); err != nil {
		return err
	}
	cp, _, err := results.VerifyCheckpoint(d.Checkpoint, a.Key.Public())
	if err != nil {
		return fmt.Errorf("the archive's checkpoint: %w", err)
	}
	cm := CheckpointMessage{Version: Version, Bench: a.Bench.ID, Time: time.Now().UTC(), Size: cp.Size, Checkpoint: d.Checkpoint}
	return a.s.publish(ctx, a.topics.Checkpoint(), true, marshal(cm))
}
