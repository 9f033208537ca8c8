package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/cityline/cityline/dialog"
)

// chatLine is one reply of `chat --json`.
type chatLine struct {
	State    string          `json:"state"`
	Reply    string          `json:"reply"`
	Choices  []dialog.Choice `json:"choices"`
	Expect   dialog.Expect   `json:"expect"`
	Lang     string          `json:"lang"`
	Case     *chatCase       `json:"case,omitempty"`
	Decision *dialog.Kind    `json:"kind,omitempty"`
}

type chatCase struct {
	ID          string `json:"id"`
	ServiceCode string `json:"service_code"`
	Status      string `json:"status"`
}

// cmdChat is one conversation in the terminal.
func cmdChat(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("chat", stderr)
	content := contentFlag(fs)
	sf := addStoreFlags(fs)
	asJSON := fs.Bool("json", false, "read one turn a line, print one JSON reply a line")
	channel := fs.String("channel", "web", "channel to behave as: web, sms or voice")
	contact := fs.String("contact", "", "the resident's phone number or e-mail (for status by contact)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch *channel {
	case dialog.ChannelWeb, dialog.ChannelSMS, dialog.ChannelVoice:
	default:
		fmt.Fprintln(stderr, "--channel must be web, sms or voice")
		return errUsage
	}
	b, err := newBrain(*content)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, sf, b.pack.City.ReferencePrefix)
	if err != nil {
		return err
	}
	defer store.Close()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	eng, err := b.engine(store, log, nil)
	if err != nil {
		return err
	}
	conv := "chat-" + randomID()
	if *contact != "" {
		conv = *channel + ":" + *contact
	}
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 64*1024), 1024*1024)
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	if !*asJSON {
		fmt.Fprintf(w, "%s 311 (type your message; Ctrl-D to quit)\n\n", b.pack.City.Name)
		if g := b.pack.City.Greeting.In(b.pack.City.DefaultLang()); g != "" {
			fmt.Fprintln(w, wrap(g))
		}
		fmt.Fprint(w, "\n> ")
		w.Flush()
	}
	var last []dialog.Choice
	for in.Scan() {
		text := in.Text()
		choice := ""
		// A number answers the choices shown, on any channel.
		if n := strings.TrimSpace(text); len(last) > 0 && len(n) <= 2 {
			for i, c := range last {
				if n == fmt.Sprint(i+1) && !strings.HasPrefix(c.ID, "value:") && c.ID != "yes" && c.ID != "no" {
					choice = c.ID
				}
			}
		}
		r, err := eng.Handle(ctx, dialog.Inbound{Channel: *channel, ConversationID: conv, Contact: *contact,
			Text: text, Choice: choice})
		if err != nil {
			log.Error("turn", "err", err)
		}
		last = r.Choices
		if *asJSON {
			line := chatLine{State: r.State, Reply: r.Text(), Choices: r.Choices, Expect: r.Expect, Lang: r.Lang}
			if line.Choices == nil {
				line.Choices = []dialog.Choice{}
			}
			if r.Case != nil {
				line.Case = &chatCase{ID: r.Case.Ref, ServiceCode: r.Case.ServiceCode, Status: r.Case.Status}
			}
			if r.Decision != nil {
				k := r.Decision.Kind
				line.Decision = &k
			}
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(line); err != nil {
				return err
			}
			w.Flush()
			continue
		}
		printReply(w, r)
		fmt.Fprint(w, "\n> ")
		w.Flush()
	}
	if !*asJSON {
		fmt.Fprintln(w)
	}
	return in.Err()
}

// printReply renders a reply for a terminal: wrapped text, numbered
// choices, the reference highlighted.
func printReply(w io.Writer, r dialog.Reply) {
	if r.Silent {
		fmt.Fprintln(w, "(passed to staff)")
		return
	}
	text := r.Text()
	if r.Case != nil && r.Case.Ref != "" {
		text = strings.ReplaceAll(text, r.Case.Ref, "\x1b[1;32m"+r.Case.Ref+"\x1b[0m")
	}
	fmt.Fprintln(w, wrap(text))
	for i, c := range r.Choices {
		fmt.Fprintf(w, "  %d. %s\n", i+1, c.Label)
	}
}

// wrap folds text at 78 columns for a terminal.
func wrap(s string) string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			if len(line)+len(word)+1 > 78 && line != "" {
				out = append(out, line)
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += word
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
