package network

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
)

// webDevice is a device's admin pages: Basic on /basic, Digest on
// /digest, a login form on /login; locked after lockAfter failures.
type webDevice struct {
	password  string
	lockAfter int
	fails     int
}

func (d *webDevice) locked(w http.ResponseWriter) bool {
	if d.lockAfter > 0 && d.fails >= d.lockAfter {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "too many failed logins", http.StatusTooManyRequests)
		return true
	}
	return false
}

func (d *webDevice) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/basic", func(w http.ResponseWriter, r *http.Request) {
		if d.locked(w) {
			return
		}
		if u, p, ok := r.BasicAuth(); ok && u == "admin" && p == d.password {
			fmt.Fprint(w, "status page")
			return
		}
		d.fails++
		w.Header().Set("WWW-Authenticate", `Basic realm="gw"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
	})
	const realm, nonce = "gw", "dcd98b7102dd2f0e8b11d0f600bfb0c093"
	mux.HandleFunc("/digest", func(w http.ResponseWriter, r *http.Request) {
		if d.locked(w) {
			return
		}
		// RFC 7616 3.4.1, MD5, qop auth, computed here by hand.
		if c, err := digest.ParseCredentials(r.Header.Get("Authorization")); err == nil {
			h := func(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }
			ha1 := h("admin:" + realm + ":" + d.password)
			ha2 := h(r.Method + ":" + c.URI)
			want := h(fmt.Sprintf("%s:%s:%08x:%s:auth:%s", ha1, nonce, c.Nc, c.Cnonce, ha2))
			if c.Username == "admin" && c.Response == want {
				fmt.Fprint(w, "status page")
				return
			}
			d.fails++
		}
		w.Header().Set("WWW-Authenticate", `Digest realm="`+realm+`", qop="auth", nonce="`+nonce+`", algorithm=MD5`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if d.locked(w) {
			return
		}
		if r.FormValue("user") == "admin" && r.FormValue("pass") == d.password && r.FormValue("login") == "1" {
			http.Redirect(w, r, "/home", http.StatusFound)
			return
		}
		d.fails++
		fmt.Fprintf(w, "<form>Invalid user name or password for %s</form>", r.FormValue("user"))
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		c, _, _ := w.(http.Hijacker).Hijack()
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	mux.HandleFunc("/redir", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/login.html", http.StatusFound) })
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) })
	mux.HandleFunc("/oops", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", http.StatusInternalServerError) })
	return mux
}

var loginForm = Form{Path: "/login", UserField: "user", PasswordField: "pass", Extra: map[string][]string{"login": {"1"}},
	Redirect: regexp.MustCompile(`^/home$`), Failed: regexp.MustCompile(`Invalid user name or password`)}

func TestHTTPLogins(t *testing.T) {
	const pw = "Label-Pass-42"
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		try  func(h *HTTP, pass string) (*Response, error)
	}{
		{"basic", func(h *HTTP, pass string) (*Response, error) { return h.Basic(ctx, "GET", "/basic", "admin", pass) }},
		{"digest", func(h *HTTP, pass string) (*Response, error) { return h.Digest(ctx, "GET", "/digest", "admin", pass) }},
		{"form", func(h *HTTP, pass string) (*Response, error) { return h.Form(ctx, loginForm, "admin", pass) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer((&webDevice{password: pw, lockAfter: 2}).handler())
			defer srv.Close()
			var ev evidence
			h := &HTTP{Base: srv.URL, Rec: NewRecorder(&ev, time.Time{})}
			if _, err := tc.try(h, pw); err != nil {
				t.Fatalf("right password: %v\n%s", err, ev.String())
			}
			for range 2 {
				if _, err := tc.try(h, "wrong-password"); !errors.Is(err, ErrDenied) {
					t.Fatalf("wrong password: %v, want credentials refused\n%s", err, ev.String())
				}
			}
			// Locked now: the right password is refused with 429.
			_, err := tc.try(h, pw)
			var e *Error
			if !errors.Is(err, ErrLocked) || !errors.As(err, &e) || e.RetryAfter != 30*time.Second {
				t.Fatalf("while locked: %v, want locked out with retry after 30s", err)
			}
			want := fmt.Sprintf("http %s ", tc.name)
			if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "admin@"+strings.TrimPrefix(srv.URL, "http://")+": locked out") {
				t.Errorf("error %q does not say what was done on which address", err)
			}
			ev.noSecret(t, pw)
			if tc.name == "basic" && strings.Contains(ev.String(), "YWRtaW46") { // base64 "admin:"
				t.Errorf("the Basic token is in the evidence:\n%s", ev.String())
			}
		})
	}
}

func TestHTTPFaults(t *testing.T) {
	srv := httptest.NewServer((&webDevice{password: "x"}).handler())
	defer srv.Close()
	ctx := t.Context()
	h := &HTTP{Base: srv.URL, Timeout: time.Hour}
	for _, tc := range []struct {
		path string
		want error
	}{
		{"/busy", ErrUnavailable},
		{"/oops", ErrUnexpected},
		{"/redir", ErrUnexpected}, // to a login page: no success
		{"/reset", ErrClosed},
	} {
		if _, err := h.Basic(ctx, "GET", tc.path, "admin", "x"); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.path, err, tc.want)
		}
	}
	short := &HTTP{Base: srv.URL, Timeout: time.Millisecond}
	if _, err := short.Basic(ctx, "GET", "/hang", "admin", "x"); !errors.Is(err, ErrTimeout) {
		t.Errorf("hang: %v, want timeout", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.Basic(cctx, "GET", "/hang", "admin", "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := (&HTTP{Base: "http://" + addr}).Basic(ctx, "GET", "/", "admin", "x"); !errors.Is(err, ErrRefused) {
		t.Errorf("closed port: %v, want refused", err)
	}
	if _, err := h.Form(ctx, Form{Path: "/login"}, "admin", "x"); !errors.Is(err, ErrBench) {
		t.Errorf("form without fields: %v, want a bench fault", err)
	}
	// A page served without a challenge is no login at all.
	if _, err := h.Digest(ctx, "GET", "/busy", "admin", "x"); !errors.Is(err, ErrUnexpected) {
		t.Errorf("digest on 503: %v", err)
	}
	resp, err := h.Get(ctx, "/basic")
	if err != nil || resp.Status != http.StatusUnauthorized {
		t.Errorf("get: %v %v", resp, err)
	}
}

// TestHTTPSRecordsCertificate: over https the device's certificate is
// recorded by its SHA-256, not checked.
func TestHTTPSRecordsCertificate(t *testing.T) {
	srv := httptest.NewTLSServer((&webDevice{password: "Label-Pass-42"}).handler())
	defer srv.Close()
	var ev evidence
	h := &HTTP{Base: srv.URL, Client: srv.Client(), Rec: NewRecorder(&ev, time.Time{})}
	if _, err := h.Basic(t.Context(), "GET", "/basic", "admin", "Label-Pass-42"); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(srv.Certificate().Raw)
	if want := `"event":"tlscert","detail":"SHA256:` + hex.EncodeToString(sum[:]); !strings.Contains(ev.String(), want) {
		t.Errorf("no %s in:\n%s", want, ev.String())
	}
}
