// Package network reaches a device's network services as a credential
// sweep and later suites need: a login over telnet (Telnet), HTTP Basic,
// Digest or a login form (HTTP), SSH by password or keyboard-interactive
// (SSH), and an MQTT CONNECT with credentials (MQTT). Each probe tries one
// thing, records what it sent and got, and returns nil or a typed *Error.
//
// # Outcomes
//
// Every failure is an *Error naming what was done on which address
// (`telnet login admin@192.0.2.10:23: credentials refused (device said
// "Login incorrect")`), with a kind for errors.Is:
//
//   - the device's behaviour, for a case to judge: ErrDenied (wrong
//     credentials), ErrLocked (a lock shown: the lockout prompt, HTTP 429 or
//     the declared status or body, with Error.RetryAfter from Retry-After,
//     an SSH banner), ErrNoLogin (access given without credentials),
//     ErrNotAuthorized and ErrUnavailable (MQTT CONNACK 5 and 3),
//     ErrUnexpected (an answer that is neither success nor refusal);
//   - the connection: ErrRefused (nothing listening), ErrClosed (the device
//     closed or reset it, or disconnected), ErrTimeout;
//   - the bench's side: ErrBench (bad arguments, no route), and ctx's error
//     when the caller cancelled. A case's verdict for these is ERROR.
//
// Each probe bounds its work with its Timeout (DefaultTimeout when zero)
// and honours ctx: a cancellation ends a read or connect in flight.
//
// A probe tries exactly once: no reconnects, no protocol fallbacks (paho's
// retry of a refused MQTT 3.1.1 CONNECT as 3.1 is turned off), because a
// device's brute-force counter would count every retry as a guess.
//
// # Telnet
//
// A minimal client: every option the server proposes is refused (WONT to
// DO, DONT to WILL), so the exchange is plain NVT text and no terminal
// type, window size or echo state is negotiated. Telnet commands, NUL
// bytes and ANSI escape sequences are removed from the text, and CR, LF
// and CRLF each become "\n", before the Prompts (regular expressions, the
// same prompts the profile gives the console) are matched. Login waits for
// the login prompt (or a password prompt alone), sends the user name, the
// password (SendSecret: redacted in the evidence), and reads the answer:
// the shell prompt is success, the failed prompt or the login prompt
// coming back is ErrDenied, the lockout prompt is ErrLocked. A shell
// before any prompt is ErrNoLogin. The matcher here is small (a login is
// a few hundred bytes); drivers/console's bounded streaming engine is not
// reachable over an arbitrary connection.
//
// # HTTP
//
// Basic (RFC 7617), Digest (RFC 7616, computed with github.com/icholy/digest,
// MD5 and SHA-256, qop auth) and form login. Redirects are never followed:
// a form's success is told by a status, a Location or a body pattern the
// caller gives (the profile or the declarations), its refusal by 401/403 or
// a failure pattern. For https, give a Client whose transport accepts the
// device's certificate (often self-signed); its SHA-256 is recorded. Get fetches a page without credentials, to check the
// declared public paths and that the others are guarded.
//
// # SSH
//
// Password and keyboard-interactive (each question without echo answered
// with the password). The host key's algorithm and SHA-256 fingerprint are
// recorded and never checked: the device is under test, not a host to
// trust. The evidence holds what SSH shows (banner, questions, answers
// redacted, verdict), not the encrypted bytes.
//
// # Evidence
//
// A Recorder writes JSON Lines (results.KindNetwork, conventionally
// network-FIXTURE.jsonl), one record per line, each in one Write, shared by
// every probe of a run:
//
//	{"mono_ns":5389717,"wall":"2026-12-06T22:02:32.244641535Z","proto":"telnet","addr":"192.0.2.10:23","conn":1,"dir":"tx","text":"admin\r\n"}
//	{"mono_ns":9475802,"wall":"2026-12-06T22:02:32.248727630Z","proto":"telnet","addr":"192.0.2.10:23","conn":1,"dir":"tx","text":"<redacted>\r\n","redacted":true}
//
// mono_ns counts from the run's epoch (shared with the console transcript,
// so the two interleave), wall is UTC with nanoseconds. proto is telnet,
// http, ssh or mqtt; conn numbers the recorder's connections from 1; dir
// is tx (bench to device), rx (device to bench) or event. Bytes that are
// not UTF-8 (telnet option replies) are in b64 instead of text. Events:
// connect, close (who closed), hostkey (ssh: "ssh-ed25519 SHA256:..."),
// tlscert (https: "SHA256:HEX SUBJECT" of the device's certificate,
// recorded, never checked), note, and outcome ("ok" or the error's text), one per probe.
//
// Passwords never appear: where one was sent the text holds the marker
// "<redacted>" and the record says "redacted": true (the marker is never
// the device's own words). A Basic token, a Digest response and a form's
// password field are redacted the same way, and a password of 4 bytes or
// more is also replaced wherever the device sends it back. Records are
// shared with the lab's customers.
package network
