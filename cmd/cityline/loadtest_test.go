package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestLoadtestSelf runs `cityline loadtest --self` briefly: an in-process
// server, residents texting and chatting, the bare net/http baseline in
// the same run, and one JSON object with the figures.
func TestLoadtestSelf(t *testing.T) {
	quietEnv(t)
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"loadtest", "--self", "--duration", "1500ms", "--warmup", "200ms",
		"--concurrency", "16", "--json", "--seed", "7"}, nil, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errs.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"turns_per_s", "p50_ms", "p95_ms", "p99_ms", "errors", "baseline_per_s", "rss_mb", "ratio"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("no %q in %s", k, out.String())
		}
	}
	if rep["errors"].(float64) != 0 || rep["turns_per_s"].(float64) <= 0 || rep["baseline_per_s"].(float64) <= 0 ||
		rep["reports"].(float64) == 0 || rep["questions"].(float64) == 0 || rep["web_chats"].(float64) == 0 {
		t.Errorf("implausible run: %s", out.String())
	}
}

// The load test drives loopback or the URL it is given, nothing else.
func TestLoadtestNeedsATarget(t *testing.T) {
	quietEnv(t)
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"loadtest"}, nil, &out, &errs); code != 2 {
		t.Errorf("without --self or --target: exit %d, want 2", code)
	}
	if code := run(context.Background(), []string{"loadtest", "--self", "--target", "http://127.0.0.1:1"}, nil, &out, &errs); code != 2 {
		t.Errorf("with both: exit %d, want 2", code)
	}
	if code := run(context.Background(), []string{"loadtest", "--target", "http://127.0.0.1:1", "--redis", "redis://x"}, nil, &out, &errs); code != 2 {
		t.Errorf("--redis with --target: exit %d, want 2", code)
	}
	if !strings.Contains(errs.String(), "--self or --target") {
		t.Errorf("no hint:\n%s", errs.String())
	}
}
