package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestRulesOfTheHouse checks design.md's rules on imports with go list:
// dependencies point down the picture, and each outside library is
// imported by the one package that wraps it.
func TestRulesOfTheHouse(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "github.com/cityline/cityline/...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	const mod = "github.com/cityline/cityline/"
	imports := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		imports[strings.TrimPrefix(p.ImportPath, mod)] = p.Imports
	}
	ours := func(pkg string) []string {
		var r []string
		for _, i := range imports[pkg] {
			if strings.HasPrefix(i, mod) {
				r = append(r, strings.TrimPrefix(i, mod))
			}
		}
		return r
	}
	top := func(p string) string { return strings.SplitN(p, "/", 2)[0] }
	for pkg := range imports {
		for _, dep := range ours(pkg) {
			switch {
			case strings.HasPrefix(dep, "cmd/") && !strings.HasPrefix(pkg, "cmd/"):
				// cmd/cityline may have packages of its own (internal/load).
				t.Errorf("%s imports %s: nothing imports cmd", pkg, dep)
			case pkg == "cases" || pkg == "knowledge" && dep != "cases":
				t.Errorf("%s imports %s: cases imports nothing of ours, knowledge only cases", pkg, dep)
			case strings.HasPrefix(pkg, "cases/") && dep != "cases":
				t.Errorf("%s imports %s: an implementation imports its parent, never a sibling", pkg, dep)
			case top(pkg) == "dialog" && top(dep) == "channels":
				t.Errorf("%s imports %s: dialog imports no channel", pkg, dep)
			case top(pkg) == "knowledge" && top(dep) != "knowledge" && dep != "cases":
				t.Errorf("%s imports %s: knowledge sits below dialog and the channels", pkg, dep)
			case isChannel(pkg) && isChannel(dep) && pkg != dep:
				t.Errorf("%s imports %s: a channel never imports another channel", pkg, dep)
			}
		}
	}
	// Each outside system is wrapped by one package.
	owners := map[string]string{
		"github.com/blevesearch/bleve/v2": "knowledge/index",
		"github.com/redis/go-redis/v9":    "dialog/redis",
		"github.com/twilio/twilio-go":     "channels/twilio",
		"github.com/slack-go/slack":       "channels/slack",
		"github.com/jackc/pgx/v5":         "cases/postgres",
		"modernc.org/sqlite":              "cases/sqlite",
	}
	for pkg, list := range imports {
		for _, i := range list {
			for lib, owner := range owners {
				if (i == lib || strings.HasPrefix(i, lib+"/")) && pkg != owner && !strings.HasPrefix(pkg, owner+"/") {
					t.Errorf("%s imports %s, which only %s may", pkg, i, owner)
				}
			}
		}
	}
}

// isChannel: channels/twilio wraps the Twilio platform for the SMS and
// voice channels; it is a library they share, not a channel.
func isChannel(pkg string) bool {
	return strings.HasPrefix(pkg, "channels/") && pkg != "channels/twilio"
}
