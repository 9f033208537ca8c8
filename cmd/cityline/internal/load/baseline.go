package load

import (
	"bytes"
	"context"
	"encoding/xml"
	"net"
	"net/http"
	"time"
)

// Bare is the yardstick every figure is compared with: a bare net/http
// handler doing the least a Twilio webhook handler must — read the form,
// answer a small TwiML document — and nothing else.
func Bare() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "malformed form body\n", http.StatusBadRequest)
			return
		}
		from, body := r.PostForm.Get("From"), r.PostForm.Get("Body")
		if from == "" {
			http.Error(w, "missing From\n", http.StatusBadRequest)
			return
		}
		var b bytes.Buffer
		b.WriteString(xml.Header)
		b.WriteString("<Response><Message>")
		xml.EscapeText(&b, []byte("Thanks, we got your message: "+body))
		b.WriteString("</Message></Response>")
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Write(b.Bytes())
	})
}

// Baseline serves Bare on a loopback port of its own and drives it as
// Run drives Cityline, with the same residents sending the same signed
// webhooks (texts only: the bare handler has no conversations).
func Baseline(ctx context.Context, cfg Config) (*Result, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: Bare(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	cfg.Base = "http://" + ln.Addr().String()
	cfg.PublicURL = ""
	cfg.WebShare = -1
	cfg.Mix = Mix{Questions: 1}
	return Run(ctx, cfg)
}
