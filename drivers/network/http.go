package network

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/icholy/digest"
)

// HTTP logs in to a device's web interface: HTTP Basic (RFC 7617), HTTP
// Digest (RFC 7616, computed by github.com/icholy/digest) or a login form.
// Redirects are never followed: a redirect is an answer to judge.
type HTTP struct {
	Base    string        // scheme, host and port: "http://192.0.2.10:8080"
	Timeout time.Duration // bounds each request, answer included; default 10s
	Rec     *Recorder     // nil records nothing
	// Locked is how the interface shows a lock (the declarations'
	// brute_force.http.locked); the zero value means status 429.
	Locked HTTPLock
	// Client, when set, is the client to use (a transport that accepts a
	// device's self-signed certificate, say); its redirect policy and
	// timeout are replaced.
	Client *http.Client
}

// HTTPLock is how a web interface shows that logins are locked.
type HTTPLock struct {
	Status int            // default 429 (RFC 6585)
	Body   *regexp.Regexp // the body while locked, if it says so
}

// Form is a login form: a POST (application/x-www-form-urlencoded) of
// UserField and PasswordField, and Extra, to Path; and how the answer
// tells success from refusal. At least one of Status, Redirect and Body
// must be given.
type Form struct {
	Path          string
	UserField     string
	PasswordField string
	Extra         url.Values // other fields the form posts (a hidden "login=1")

	Status   []int          // statuses that mean success (e.g. 200 where failure is 401)
	Redirect *regexp.Regexp // a Location that means success (e.g. `/home$`)
	Body     *regexp.Regexp // a body that means success (e.g. `Logout`)
	// Failed is a body that means refusal. When given, an answer that is
	// neither success nor refusal nor lock is ErrUnexpected; when not, any
	// answer that is not success is ErrDenied.
	Failed *regexp.Regexp
}

// Response is what the device answered.
type Response struct {
	Status int
	Header http.Header
	Body   []byte // at most maxBody bytes
}

const maxBody = 64 << 10

func (h *HTTP) client() *http.Client {
	c := &http.Client{}
	if h.Client != nil {
		cp := *h.Client
		c = &cp
	}
	c.Timeout = DefaultTimeout
	if h.Timeout > 0 {
		c.Timeout = h.Timeout
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func (h *HTTP) host() string {
	if u, err := url.Parse(h.Base); err == nil && u.Host != "" {
		return u.Host
	}
	return h.Base
}

// Get fetches path without credentials: nil error for any answer, so a
// case can see whether a page declared guarded is served (2xx) or not.
func (h *HTTP) Get(ctx context.Context, path string) (*Response, error) {
	x := h.Rec.open("http", h.host())
	op := "http GET " + path
	resp, err := h.do(ctx, x, op, "", http.MethodGet, path, nil, "", nil)
	return resp, x.outcome(err)
}

// Basic requests path with HTTP Basic credentials. It returns the answer
// and nil for a 2xx; otherwise an *Error: ErrDenied (401, 403),
// ErrLocked (the lock's status or body; RetryAfter from the header),
// ErrUnavailable (503), ErrUnexpected (a redirect, often to a login page,
// and any other status), or a transport kind. A 2xx proves the credentials
// only on a path that refuses a request without them: check it with Get
// first (a public page answers 200 to any password).
func (h *HTTP) Basic(ctx context.Context, method, path, user, password string) (*Response, error) {
	x := h.Rec.open("http", h.host(), password)
	op := "http basic " + method + " " + path
	token := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	x.hide(token)
	auth := "Basic " + token
	resp, err := h.do(ctx, x, op, user, method, path, nil, "", http.Header{"Authorization": {auth}})
	if err == nil {
		err = h.judge(op, user, resp, nil)
	}
	return resp, x.outcome(err)
}

// Digest requests path, answers the device's Digest challenge with the
// credentials, and judges the second answer as Basic does. A first answer
// that is not a Digest challenge is ErrNoLogin (2xx: served without
// credentials) or ErrUnexpected.
func (h *HTTP) Digest(ctx context.Context, method, path, user, password string) (*Response, error) {
	x := h.Rec.open("http", h.host(), password)
	op := "http digest " + method + " " + path
	resp, err := h.do(ctx, x, op, user, method, path, nil, "", nil)
	if err != nil {
		return resp, x.outcome(err)
	}
	fail := func(kind error, said string, cause error) (*Response, error) {
		return resp, x.outcome(&Error{Op: op, User: user, Addr: h.host(), Kind: kind, Said: said, Err: cause})
	}
	if resp.Status/100 == 2 {
		return fail(ErrNoLogin, strconv.Itoa(resp.Status), nil)
	}
	if lerr := h.lock(op, user, resp); lerr != nil {
		return resp, x.outcome(lerr)
	}
	chal, err := digest.FindChallenge(resp.Header)
	if resp.Status != http.StatusUnauthorized || err != nil {
		return fail(ErrUnexpected, fmt.Sprintf("%d without a Digest challenge", resp.Status), err)
	}
	if !digest.CanDigest(chal) {
		return fail(ErrUnexpected, "Digest algorithm "+chal.Algorithm+" qop "+strings.Join(chal.QOP, ","), errors.New("the challenge asks for what RFC 7616 clients do not support"))
	}
	cred, err := digest.Digest(chal, digest.Options{Method: method, URI: path, Username: user, Password: password, Count: 1})
	if err != nil {
		return fail(ErrBench, "", err)
	}
	shown := *cred
	shown.Response = Redacted // a hash of the password, crackable offline
	resp, err = h.do(ctx, x, op, user, method, path, nil, "",
		http.Header{"Authorization": {cred.String()}}, "Digest "+strings.TrimPrefix(shown.String(), "Digest "))
	if err == nil {
		err = h.judge(op, user, resp, nil)
	}
	return resp, x.outcome(err)
}

// Form posts the form with the credentials and judges the answer.
func (h *HTTP) Form(ctx context.Context, f Form, user, password string) (*Response, error) {
	x := h.Rec.open("http", h.host(), password)
	op := "http form POST " + f.Path
	if f.Path == "" || f.UserField == "" || f.PasswordField == "" || (len(f.Status) == 0 && f.Redirect == nil && f.Body == nil) {
		return nil, x.outcome(&Error{Op: op, User: user, Addr: h.host(), Kind: ErrBench,
			Err: errors.New("the form needs a path, its two field names, and how success shows (a status, a redirect or a body pattern)")})
	}
	v := url.Values{}
	for k, vs := range f.Extra {
		v[k] = slices.Clone(vs)
	}
	v.Set(f.UserField, user)
	v.Set(f.PasswordField, password)
	others := url.Values{}
	for k, vs := range v {
		if k != f.PasswordField {
			others[k] = vs
		}
	}
	shown := others.Encode() + "&" + url.QueryEscape(f.PasswordField) + "=" + Redacted
	resp, err := h.do(ctx, x, op, user, http.MethodPost, f.Path, strings.NewReader(v.Encode()), shown,
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if err == nil {
		err = h.judge(op, user, resp, &f)
	}
	return resp, x.outcome(err)
}

// do sends one request and reads the answer (body bounded), recording
// both. shownBody and shownAuth are what the record shows in place of the
// body and the Authorization header (redacted); "" shows the body as it is
// and the Authorization header as "SCHEME <redacted>".
func (h *HTTP) do(ctx context.Context, x *exchange, op, user, method, path string, body io.Reader, shownBody string, hdr http.Header, shownAuth ...string) (*Response, error) {
	fail := func(kind, err error) error {
		return &Error{Op: op, User: user, Addr: h.host(), Kind: kind, Err: err}
	}
	if !strings.HasPrefix(path, "/") {
		return nil, fail(ErrBench, fmt.Errorf("path %q does not start with /", path))
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(h.Base, "/")+path, body)
	if err != nil {
		return nil, fail(ErrBench, err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, req.URL.Host)
	redacted := false
	for _, k := range sortedKeys(req.Header) {
		for _, v := range req.Header[k] {
			if k == "Authorization" {
				redacted = true
				v = strings.SplitN(v, " ", 2)[0] + " " + Redacted
				if len(shownAuth) > 0 {
					v = shownAuth[0]
				}
			}
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if body != nil {
		b.WriteString(shownBody)
		redacted = true
	}
	if redacted {
		x.txRedacted(b.String())
	} else {
		x.tx([]byte(b.String()))
	}
	res, err := h.client().Do(req)
	if err != nil {
		return nil, fail(classify(ctx, err), err)
	}
	defer res.Body.Close()
	if res.TLS != nil && len(res.TLS.PeerCertificates) > 0 && !x.tlsSeen {
		// Recorded, never checked, like an SSH host key.
		x.tlsSeen = true
		sum := sha256.Sum256(res.TLS.PeerCertificates[0].Raw)
		x.event(EventTLSCert, "SHA256:"+hex.EncodeToString(sum[:])+" "+res.TLS.PeerCertificates[0].Subject.String())
	}
	data, rerr := io.ReadAll(io.LimitReader(res.Body, maxBody))
	var a strings.Builder
	fmt.Fprintf(&a, "%s %s\r\n", res.Proto, res.Status)
	for _, k := range sortedKeys(res.Header) {
		for _, v := range res.Header[k] {
			fmt.Fprintf(&a, "%s: %s\r\n", k, v)
		}
	}
	a.WriteString("\r\n")
	a.Write(data)
	x.rx([]byte(a.String()))
	if rerr != nil {
		return nil, fail(classify(ctx, rerr), rerr)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: data}, nil
}

func sortedKeys(h http.Header) []string {
	ks := make([]string, 0, len(h))
	for k := range h {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// lock returns ErrLocked when the answer shows the lock.
func (h *HTTP) lock(op, user string, r *Response) error {
	status := h.Locked.Status
	if status == 0 {
		status = http.StatusTooManyRequests
	}
	byBody := h.Locked.Body != nil && h.Locked.Body.Match(r.Body)
	if r.Status != status && !byBody {
		return nil
	}
	e := &Error{Op: op, User: user, Addr: h.host(), Kind: ErrLocked, Said: strconv.Itoa(r.Status)}
	if m := h.Locked.Body; m != nil {
		if s := m.Find(r.Body); s != nil {
			e.Said += " " + string(s)
		}
	}
	e.RetryAfter = retryAfter(r.Header.Get("Retry-After"))
	return e
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// judge reads an answer to a login: nil for success, else why not.
func (h *HTTP) judge(op, user string, r *Response, f *Form) error {
	if err := h.lock(op, user, r); err != nil {
		return err
	}
	fail := func(kind error, said string) error {
		return &Error{Op: op, User: user, Addr: h.host(), Kind: kind, Said: said}
	}
	said := strconv.Itoa(r.Status)
	if f == nil {
		switch {
		case r.Status/100 == 2:
			return nil
		case r.Status/100 == 3:
			// Often to a login page: not a success to claim.
			return fail(ErrUnexpected, said+" to "+r.Header.Get("Location"))
		case r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden:
			return fail(ErrDenied, said)
		case r.Status == http.StatusServiceUnavailable:
			return fail(ErrUnavailable, said)
		}
		return fail(ErrUnexpected, said)
	}
	loc := r.Header.Get("Location")
	switch {
	case f.Failed != nil && f.Failed.Match(r.Body):
		return fail(ErrDenied, said+" "+string(f.Failed.Find(r.Body)))
	case slices.Contains(f.Status, r.Status),
		f.Redirect != nil && loc != "" && f.Redirect.MatchString(loc),
		f.Body != nil && f.Body.Match(r.Body):
		return nil
	case r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden:
		return fail(ErrDenied, said)
	case r.Status == http.StatusServiceUnavailable:
		return fail(ErrUnavailable, said)
	case f.Failed != nil:
		return fail(ErrUnexpected, said)
	}
	if loc != "" {
		said += " to " + loc
	}
	return fail(ErrDenied, said)
}
