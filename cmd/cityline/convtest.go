package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
)

// memDesk is an in-memory case desk for scripted conversations.
type memDesk struct {
	cases []*cases.Case
}

func (m *memDesk) Create(_ context.Context, c *cases.Case) error {
	for _, o := range m.cases {
		if c.Key != "" && o.Key == c.Key {
			*c = *o
			return cases.ErrConflict
		}
	}
	c.ID = int64(len(m.cases) + 1)
	c.Ref = cases.FormatRef("T", c.ID)
	m.cases = append(m.cases, c)
	return nil
}

func (m *memDesk) Get(_ context.Context, ref string) (*cases.Case, error) {
	for _, c := range m.cases {
		if c.Ref == cases.NormalizeRef(ref) {
			return c, nil
		}
	}
	return nil, cases.ErrNotFound
}

func (m *memDesk) List(context.Context, cases.Filter) ([]*cases.Case, error) { return m.cases, nil }

// runConversations plays scripted residents and checks the case each one
// files: the service, the address, the attributes.
func runConversations(ctx context.Context, b *brain, convs []testCase, w io.Writer) (int, error) {
	ok := 0
	var fails []string
	for i, tc := range convs {
		desk := &memDesk{}
		eng, err := b.engine(desk, nil, nil)
		if err != nil {
			return 0, err
		}
		ch := tc.Channel
		if ch == "" {
			ch = dialog.ChannelSMS
		}
		id := fmt.Sprintf("conv-%d", i)
		var transcript []string
		for _, turn := range tc.Turns {
			r, err := eng.Handle(ctx, dialog.Inbound{Channel: ch, ConversationID: id, Contact: "+15550001234", Text: turn})
			if err != nil {
				return 0, err
			}
			transcript = append(transcript, "> "+turn, r.Text())
		}
		why := checkCase(desk.cases, tc.Expect)
		if why == "" {
			ok++
			continue
		}
		fails = append(fails, fmt.Sprintf("    %s: %s\n      %s", tc.Turns[0], why, strings.Join(transcript, "\n      ")))
	}
	fmt.Fprintf(w, "conversations: %d of %d filed the right case\n", ok, len(convs))
	for _, f := range fails {
		fmt.Fprintln(w, f)
	}
	return ok, nil
}

func checkCase(filed []*cases.Case, want *expectedCase) string {
	if want == nil {
		return ""
	}
	if len(filed) != 1 {
		return fmt.Sprintf("%d cases filed, want 1", len(filed))
	}
	c := filed[0]
	if c.ServiceCode != want.ServiceCode {
		return fmt.Sprintf("service %s, want %s", c.ServiceCode, want.ServiceCode)
	}
	if want.Address != "" && !sameAddress(c.Address, want.Address) {
		return fmt.Sprintf("address %q, want %q", c.Address, want.Address)
	}
	for code, vals := range want.Attributes {
		got := c.Attributes[code]
		if !sameValues(got, vals) {
			return fmt.Sprintf("attribute %s = %v, want %v", code, got, vals)
		}
	}
	return ""
}

func sameAddress(got, want string) bool {
	amp := strings.NewReplacer("&", " and ", "corner of ", "", "the ", "")
	g, w := dialog.Normalize(amp.Replace(strings.ToLower(got))), dialog.Normalize(amp.Replace(strings.ToLower(want)))
	return g == w || strings.Contains(g, w) || strings.Contains(w, g) && g != ""
}

// sameValues compares attribute values; datetimes compare by their first
// 16 characters (to the minute), so the expectation can omit the offset.
func sameValues(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	for i := range g {
		if g[i] != w[i] && !(len(w[i]) >= 10 && strings.HasPrefix(g[i], w[i])) {
			return false
		}
	}
	return true
}
