// Package fleet puts benches on an MQTT broker: an Agent serves one bench
// (`bench agent`), a Controller sends jobs and collects what benches send
// (`bench submit`, `bench fleet`). Topics and messages are in
// results/fleet.md; each message has a JSON Schema in schema/.
//
// # Sessions
//
// Both speak MQTT 3.1.1 through paho with QoS 1 and a persistent session
// (the agent's client id is its bench id), reconnect with backoff, and
// subscribe again on every connect, since a broker that restarted without
// persistence forgot them. paho calls handlers on its router goroutine: a
// handler here only copies the message and hands it to a goroutine of the
// package (the agent's job queue, the controller's message queue), so a
// slow disk or a long verification never stalls the connection. A refused
// login or certificate ends the first connection at once, as an error to
// fix; a broker that is not there yet is waited for.
//
// # Jobs
//
// A Job is signed by a controller key (SignJob, a DSSE envelope like the
// records) and opened by the bench (OpenJob): size, envelope, signature by
// a trusted key, schema, version, bench, expiry; then the agent checks that
// its fixtures and suites exist and that the id was never taken (seen, on
// disk until the job expires). Every refusal is a JobError of a kind, and
// goes out as a job-refused event; the agent goes on. An accepted job runs
// through runner.Run with the bench's leases, as `bench run` would: a
// fixture another job of this agent holds queues the job (busy: wait) or
// refuses it, and so does a lease held by anyone else.
//
// # Delivery
//
// What must reach the broker goes through the outbox, a folder of entries
// fsync'd before anything is sent and removed once the broker acknowledged
// all of it: each sealed run (re-read from the archive when sent: its
// evidence in Chunks, then the Delivery, then the retained checkpoint) and
// the events a controller waits for (job-done, job-refused,
// job-interrupted). A broker outage or an agent restart delays it; nothing
// is lost, and a run sent twice is recognised by the Controller, which
// stores runs by id and verifies each (results.Verify) with the bench key it
// trusts, and keeps the largest checkpoint each bench has shown: a smaller
// one later means the bench's newest runs were removed.
//
// A journal of each job under way (jobs/ID.json in the agent's folder)
// tells the next start that the agent stopped during it: the fixtures go to
// their safe level, the runs begun are closed as abandoned
// (results.Archive.CloseAbandoned) and delivered, and the job is reported
// interrupted.
//
// # Broker
//
// Embed starts mochi-mqtt in the process, behind the Server interface, for
// a bench that names no broker: one bench needs no set-up.
package fleet
