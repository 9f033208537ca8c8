package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The gate closes only once the request inside has finished, and a
// request arriving after that never reaches the handler.
func TestGateWaitsForRequestsInside(t *testing.T) {
	var g gate
	inside, release := make(chan struct{}), make(chan struct{})
	ran := make(chan string, 2)
	h := g.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(inside)
			<-release
		}
		ran <- r.URL.Path
	}))
	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/slow", nil))
	<-inside

	closed := make(chan error, 1)
	go func() { closed <- g.close(context.Background()) }()
	select {
	case <-closed:
		t.Fatal("the gate closed with a request inside")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if got := <-ran; got != "/slow" {
		t.Fatalf("ran %s", got)
	}

	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/late", nil))
	select {
	case got := <-ran:
		t.Errorf("%s ran after the gate closed", got)
	case <-time.After(50 * time.Millisecond):
	}
}

// close gives up when its context ends, so a stuck request cannot hold
// the process past its shutdown timeout.
func TestGateCloseTimesOut(t *testing.T) {
	var g gate
	release := make(chan struct{})
	defer close(release)
	inside := make(chan struct{})
	go g.wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { close(inside); <-release })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil))
	<-inside
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("close = %v, want the deadline", err)
	}
}
