// Package lease says who holds a fixture, so two users of one bench never
// drive the same device at once: a run, `bench power` and `bench console`
// each take the fixture's lease first, and a second taker is refused with
// the holder named (user, host, PID, what it is doing, since when).
//
// A run's lease is exclusive (Acquire): nobody else may touch the fixture.
// A person's manual session is shared (Share): `bench console` in one
// terminal and `bench power` in another work side by side, as the README's
// walkthrough does, but a run refuses to start while either holds the
// fixture, and both are refused while a run holds it.
//
// A lease is a small JSON file, FIXTURE~TOKEN.lease (one per holder), in the
// bench's lease folder, written and removed under an flock on the folder's
// .lock file, so two takers cannot both win. It carries an expiry that the holder renews while
// it holds it (every third of the time to live). A lease is stale, and is
// taken over, when its process is gone (same host: no process with that PID,
// or one started at another time, so a reused PID is not mistaken for the
// holder) or its expiry has passed (a holder that hung, or one on another
// host sharing the folder). Whoever takes a stale lease over learns who held
// it (Lease.TookOver), so a record can say the fixture was not handed over
// cleanly: its device may be in any state.
package lease
