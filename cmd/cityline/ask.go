package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cityline/cityline/dialog"
)

// askLine is one line of `ask --json`.
type askLine struct {
	Input      string             `json:"input"`
	Kind       dialog.Kind        `json:"kind"`
	ID         string             `json:"id"`
	Confidence float64            `json:"confidence"`
	Lang       string             `json:"lang"`
	Reply      string             `json:"reply"`
	Candidates []dialog.Candidate `json:"candidates"`
}

// cmdAsk shows how the assistant reads messages: for each, the first turn
// of a fresh conversation.
func cmdAsk(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("ask", stderr)
	content := contentFlag(fs)
	asJSON := fs.Bool("json", false, "print one JSON object a line")
	if err := parse(fs, args); err != nil {
		return err
	}
	b, err := newBrain(*content)
	if err != nil {
		return err
	}
	eng, err := b.engine(noCases{}, nil, nil)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	n := 0
	one := func(text string) error {
		n++
		id := "ask-" + strconv.Itoa(n)
		r, err := eng.Handle(ctx, dialog.Inbound{Channel: dialog.ChannelWeb, ConversationID: id, Text: text})
		if err != nil {
			return err
		}
		line := askLine{Input: text, Lang: r.Lang, Reply: r.Text(), Candidates: []dialog.Candidate{}}
		if d := r.Decision; d != nil {
			line.Kind, line.ID, line.Confidence = d.Kind, d.ID, d.Confidence
			if d.Candidates != nil {
				line.Candidates = d.Candidates
			}
		}
		if *asJSON {
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			return enc.Encode(line)
		}
		fmt.Fprintf(w, "> %s\n[%s %s %.2f]\n%s\n", text, line.Kind, line.ID, line.Confidence, line.Reply)
		for i, c := range r.Choices {
			fmt.Fprintf(w, "  %d. %s\n", i+1, c.Label)
		}
		fmt.Fprintln(w)
		return w.Flush()
	}
	if fs.NArg() == 1 && fs.Arg(0) == "-" {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			if err := one(sc.Text()); err != nil {
				return err
			}
		}
		return sc.Err()
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: cityline ask [--json] [--content DIR] TEXT... | -")
		return errUsage
	}
	return one(strings.Join(fs.Args(), " "))
}
