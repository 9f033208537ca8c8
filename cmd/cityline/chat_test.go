package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cityline/cityline/cases/sqlite"
)

// runCmd runs a cityline command in-process.
func runCmd(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func chatLines(t *testing.T, out string) []chatLine {
	t.Helper()
	var lines []chatLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var cl chatLine
		if err := json.Unmarshal([]byte(l), &cl); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		lines = append(lines, cl)
	}
	return lines
}

// TestChatReportThenStatusAcrossRuns is the walk-through: a pothole
// report in one run, its status in a second run with the same data, and
// the new status after staff update it.
func TestChatReportThenStatusAcrossRuns(t *testing.T) {
	data := t.TempDir()
	out, stderr, code := runCmd(t, "there's a pothole on my street\n12 King St W\n3\nin a bike lane\nabout 20\nyes\n",
		"chat", "--json", "--data", data)
	if code != 0 {
		t.Fatalf("chat exited %d: %s", code, stderr)
	}
	lines := chatLines(t, out)
	last := lines[len(lines)-1]
	if last.Case == nil || !strings.HasPrefix(last.Case.ID, "EX-") || last.Case.ServiceCode != "RD-01" || last.Case.Status != "open" {
		t.Fatalf("last reply %+v, want a filed pothole case", last)
	}
	if !strings.Contains(last.Reply, last.Case.ID) || last.State != "idle" {
		t.Errorf("the reference is not in the reply: %q", last.Reply)
	}
	for _, l := range lines {
		if l.State == "" || l.Choices == nil {
			t.Errorf("a line without state or choices: %+v", l)
		}
	}
	ref := last.Case.ID

	out, _, _ = runCmd(t, "status "+ref+"\n", "chat", "--json", "--data", data)
	if got := chatLines(t, out)[0]; !strings.Contains(got.Reply, "is open") || got.Case == nil || got.Case.ID != ref {
		t.Errorf("status in a second run: %+v", got)
	}

	if _, stderr, code := runCmd(t, "", "case", "update", ref, "--status", "closed", "--note", "Crew filled it on Dec 5", "--data", data); code != 0 {
		t.Fatalf("case update exited %d: %s", code, stderr)
	}
	out, _, _ = runCmd(t, "status "+ref+"\n", "chat", "--json", "--data", data)
	got := chatLines(t, out)[0]
	if !strings.Contains(got.Reply, "was closed") || !strings.Contains(got.Reply, "Crew filled it on Dec 5") || got.Case.Status != "closed" {
		t.Errorf("after the update the resident hears %q", got.Reply)
	}

	out, _, code = runCmd(t, "", "case", "show", ref, "--json", "--data", data)
	var shown caseJSON
	if err := json.Unmarshal([]byte(out), &shown); code != 0 || err != nil {
		t.Fatalf("case show: %d %v", code, err)
	}
	if shown.Attributes["SIZE"] != "L" || shown.Attributes["POSITION"] != "BIKE" || shown.Attributes["DEPTH_CM"] != "20" || shown.Address != "12 King Street West" {
		t.Errorf("case show: %+v", shown)
	}
}

// TestCaseIsDurableBeforeItsReferenceIsPrinted kills the process with
// SIGKILL the moment a reference appears and finds the case on disk.
func TestCaseIsDurableBeforeItsReferenceIsPrinted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a real process")
	}
	bin := filepath.Join(t.TempDir(), "cityline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := t.TempDir()
	cmd := exec.Command(bin, "chat", "--json", "--data", data, "--channel", "sms", "--contact", "+15550009999")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	go func() {
		for _, s := range []string{"pothole at 45 Elm St", "small", "curb", "skip", "yes"} {
			io.WriteString(stdin, s+"\n")
		}
	}()
	sc := bufio.NewScanner(stdout)
	ref := ""
	deadline := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		var l chatLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Case != nil {
			ref = l.Case.ID
			// No goodbye, no flush, no deferred close: the process dies now.
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	cmd.Wait()
	if ref == "" {
		t.Fatal("no reference was printed")
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(data, "cases.db"), "EX", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	c, err := store.Get(context.Background(), ref)
	if err != nil {
		t.Fatalf("case %s printed but not stored: %v", ref, err)
	}
	if c.ServiceCode != "RD-01" || c.Address != "45 Elm Street" || c.Contact.Phone != "+15550009999" {
		t.Errorf("stored %+v", c)
	}
}

func TestAskJSONContract(t *testing.T) {
	out, stderr, code := runCmd(t, "my garbage wasn't picked up\nhi\nstatus EX-004211\nmy neighbours house is on fire\n", "ask", "--json", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := []string{"service", "help", "status", "emergency"}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines for %d inputs", len(lines), len(want))
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"input", "kind", "id", "confidence", "lang", "reply", "candidates"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d has no %q: %s", i, k, l)
			}
		}
		if m["kind"] != want[i] {
			t.Errorf("line %d kind %v, want %s", i, m["kind"], want[i])
		}
	}
	var first askLine
	json.Unmarshal([]byte(lines[0]), &first)
	if first.ID != "GB-01" || first.Confidence <= 0 || first.Confidence > 1 || len(first.Candidates) == 0 || first.Reply == "" {
		t.Errorf("first line %+v", first)
	}
}

func TestIndexReportsABrokenPack(t *testing.T) {
	_, stderr, code := runCmd(t, "", "index", "--content", "../../knowledge/testdata/broken")
	if code == 0 {
		t.Fatal("a broken pack passed")
	}
	for _, want := range []string{"services.json:3: error: duplicate service_code", "articles/empty.md: error: the answer is empty"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	out, _, code := runCmd(t, "", "index")
	if code != 0 || !strings.Contains(out, "Example City: ok") {
		t.Errorf("the embedded pack: %d %s", code, out)
	}
}

func TestRoutingAccuracy(t *testing.T) {
	// The figures these hold are what the router reached (dev sets: 80.6%
	// English, 84.1% French; hold-outs never tuned on: 73.0% Harbourview,
	// 60.6% Metro); a change that makes routing worse fails here.
	for _, tt := range []struct {
		file, pack string
		min        string
	}{
		{"examplecity.jsonl", "", "0.79"},
		{"examplecity.fr.jsonl", "", "0.82"},
		{"harbourview.jsonl", "../../testdata/packs/harbourview", "0.71"},
		{"us-metro.jsonl", "../../testdata/packs/us-metro", "0.58"},
	} {
		args := []string{"test", "--min-accuracy", tt.min, "../../testdata/routing/" + tt.file}
		if tt.pack != "" {
			args = append(args, "--content", tt.pack)
		}
		out, stderr, code := runCmd(t, "", args...)
		if code != 0 {
			t.Errorf("%s: exit %d: %s\n%s", tt.file, code, stderr, firstLines(out, 14))
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// TestScriptedResidents plays residents who answer every question of the
// definition in order (as forms teach people to) against packs the engine
// was not written for, and holds the share that end with the right case
// (10 of 12 on each).
func TestScriptedResidents(t *testing.T) {
	for _, pack := range []string{"harbourview", "us-metro"} {
		out, stderr, code := runCmd(t, "", "test", "--min-accuracy", "0.8", "--content", "../../testdata/packs/"+pack,
			"../../testdata/conversations/"+pack+".jsonl")
		if code != 0 {
			t.Errorf("%s: exit %d: %s\n%s", pack, code, stderr, firstLines(out, 40))
		}
	}
}
