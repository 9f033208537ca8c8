package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cityline/cityline/cases"
)

// cmdCase is the staff tool for cases: list, show, update.
func cmdCase(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: cityline case list|show REF|update REF --status open|closed [--note TEXT]")
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := newFlags("case "+sub, stderr)
	content := contentFlag(fs)
	sf := addStoreFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	var status, note, expected *string
	var limit *int
	switch sub {
	case "list":
		limit = fs.Int("limit", 50, "how many, newest first")
		status = fs.String("status", "", "only open or closed cases")
	case "show":
	case "update":
		status = fs.String("status", "", "new status: open or closed")
		note = fs.String("note", "", "status notes residents will see")
		expected = fs.String("expected", "", "expected date, YYYY-MM-DD")
	default:
		fmt.Fprintf(stderr, "cityline case: unknown subcommand %q\n", sub)
		return errUsage
	}
	// Flags may come after the reference: "case update EX-000001 --status closed".
	var ref string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		ref, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if ref == "" && fs.NArg() > 0 {
		ref = fs.Arg(0)
	}
	p, err := loadPack(*content)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, sf, p.City.ReferencePrefix)
	if err != nil {
		return err
	}
	defer store.Close()
	switch sub {
	case "list":
		f := cases.Filter{Limit: *limit}
		if *status != "" {
			st, err := cases.ParseStatus(*status)
			if err != nil {
				return err
			}
			f.Status = st
		}
		list, err := store.List(ctx, f)
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]caseJSON, 0, len(list))
			for _, c := range list {
				out = append(out, toJSON(c))
			}
			return writeJSON(stdout, out)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REFERENCE\tSTATUS\tSERVICE\tADDRESS\tRECEIVED")
		for _, c := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Ref, c.Status, c.ServiceName, c.Address, c.Requested.Local().Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "show", "update":
		if ref == "" {
			fmt.Fprintf(stderr, "usage: cityline case %s REF\n", sub)
			return errUsage
		}
		var c *cases.Case
		if sub == "show" {
			c, err = store.Get(ctx, ref)
		} else {
			var ch cases.Change
			if *status != "" {
				st, err := cases.ParseStatus(*status)
				if err != nil {
					return err
				}
				ch.Status = &st
			}
			if *note != "" {
				ch.Notes = note
			}
			if *expected != "" {
				t, err := time.ParseInLocation("2006-01-02", *expected, p.City.Location())
				if err != nil {
					return fmt.Errorf("--expected: want YYYY-MM-DD: %w", err)
				}
				ch.Expected = &t
			}
			if ch.Status == nil && ch.Notes == nil && ch.Expected == nil {
				fmt.Fprintln(stderr, "cityline case update: nothing to change: give --status, --note or --expected")
				return errUsage
			}
			c, err = store.Update(ctx, ref, ch)
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, toJSON(c))
		}
		return printCaseUpstream(ctx, store, stdout, c) // printCase, then the upstream send state (open311.go)
	}
	return nil
}

// caseJSON is a case as staff tools print it: every field, the
// attributes as a code -> value map (a list for multi-value answers).
type caseJSON struct {
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	StatusNotes string            `json:"status_notes"`
	ServiceCode string            `json:"service_code"`
	ServiceName string            `json:"service_name"`
	Description string            `json:"description"`
	Agency      string            `json:"agency_responsible"`
	Requested   string            `json:"requested_datetime"`
	Updated     string            `json:"updated_datetime"`
	Expected    string            `json:"expected_datetime,omitempty"`
	Address     string            `json:"address"`
	Lat         *float64          `json:"lat,omitempty"`
	Long        *float64          `json:"long,omitempty"`
	MediaURLs   []string          `json:"media_urls,omitempty"`
	Attributes  map[string]any    `json:"attributes"`
	Channel     string            `json:"channel"`
	Lang        string            `json:"lang"`
	Contact     map[string]string `json:"contact,omitempty"`
	Notify      bool              `json:"notify"`
}

func toJSON(c *cases.Case) caseJSON {
	out := caseJSON{ID: c.Ref, Status: string(c.Status), StatusNotes: c.StatusNotes, ServiceCode: c.ServiceCode,
		ServiceName: c.ServiceName, Description: c.Description, Agency: c.Agency,
		Requested: iso(c.Requested), Updated: iso(c.Updated), Expected: iso(c.Expected), Address: c.Address,
		MediaURLs: c.MediaURLs, Attributes: map[string]any{}, Channel: c.Channel, Lang: c.Lang, Notify: c.Contact.Notify}
	if c.Location != nil {
		out.Lat, out.Long = &c.Location.Lat, &c.Location.Long
	}
	for k, v := range c.Attributes {
		if len(v) == 1 {
			out.Attributes[k] = v[0]
		} else {
			out.Attributes[k] = v
		}
	}
	contact := map[string]string{}
	for k, v := range map[string]string{"phone": c.Contact.Phone, "email": c.Contact.Email,
		"first_name": c.Contact.FirstName, "last_name": c.Contact.LastName} {
		if v != "" {
			contact[k] = v
		}
	}
	if len(contact) > 0 {
		out.Contact = contact
	}
	return out
}

func iso(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func printCase(w io.Writer, c *cases.Case) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("Reference", c.Ref)
	row("Status", string(c.Status))
	row("Notes", c.StatusNotes)
	row("Service", c.ServiceName+" ("+c.ServiceCode+")")
	row("Address", c.Address)
	if c.Location != nil {
		row("Location", fmt.Sprintf("%.6f, %.6f", c.Location.Lat, c.Location.Long))
	}
	row("Description", c.Description)
	keys := make([]string, 0, len(c.Attributes))
	for k := range c.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		row("  "+k, strings.Join(c.Attributes[k], ", "))
	}
	row("Photos", strings.Join(c.MediaURLs, " "))
	row("Received", iso(c.Requested))
	row("Updated", iso(c.Updated))
	row("Expected", iso(c.Expected))
	row("Channel", c.Channel)
	row("Phone", c.Contact.Phone)
	row("E-mail", c.Contact.Email)
	if c.Contact.Notify {
		row("Updates", "the resident asked to be told")
	}
	return tw.Flush()
}

// randomID is an unguessable identifier.
func randomID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return hex.EncodeToString(b)
}
