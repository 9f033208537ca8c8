package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cityline/cityline/insights"
)

// cmdReport prints the dashboard's figures in the terminal: `cityline
// report [--since 7d] [--json]`, over the same case database as serve
// (--data or --postgres). With --purge it first applies the retention
// rule (CITYLINE_RETENTION, or --retention), as serve does every day.
func cmdReport(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("report", stderr)
	content := contentFlag(fs)
	sf := addStoreFlags(fs)
	since := fs.String("since", "7d", "the period: days (7d), weeks (2w) or hours (36h), ending now")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	purge := fs.Bool("purge", false, "first purge what is older than the retention period (closed cases' contact details, events' words)")
	keep := fs.String("retention", env("CITYLINE_RETENTION", "365d"), "how long personal information is kept, for --purge [CITYLINE_RETENTION]")
	if err := parse(fs, args); err != nil {
		return err
	}
	period, err := insights.ParsePeriod(*since)
	if err != nil {
		return exitError{code: 2, msg: "--since: " + err.Error()}
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
	st, err := openInsights(ctx, store, p, nil)
	if err != nil {
		return err
	}
	now := time.Now()
	if *purge {
		d, err := insights.ParsePeriod(*keep)
		if err != nil {
			return exitError{code: 2, msg: "--retention: " + err.Error()}
		}
		res, err := st.Purge(ctx, now.Add(-d))
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Purged what is older than %s: %s.\n", insights.FormatPeriod(d), res)
	}
	from, until := st.Period(now, period)
	r, err := st.Report(ctx, from, until)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, r)
	}
	return printReport(stdout, p.City.Name, st.Location(), r)
}

// printReport writes the report for people, section by section, in the
// order of the dashboard.
func printReport(w io.Writer, city string, loc *time.Location, r *insights.Report) error {
	days := len(r.Days)
	fmt.Fprintf(w, "%s 311: %s to %s (%d days)\n", city, r.Since.In(loc).Format("Mon 2 Jan 2006"),
		r.Until.In(loc).Format("Mon 2 Jan 2006 15:04"), days)

	section := func(title string) *tabwriter.Writer {
		fmt.Fprintf(w, "\n%s\n", title)
		return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	}
	k := r.Containment
	tw := section("Summary")
	fmt.Fprintf(tw, "  Conversations\t%d\n", r.Conversations)
	fmt.Fprintf(tw, "  Resolved without staff\t%d\t%s\n", k.Resolved, share(k.Resolved, k.Conversations))
	fmt.Fprintf(tw, "  Ended without staff\t%d\t%s\n", k.Contained, share(k.Contained, k.Conversations))
	fmt.Fprintf(tw, "  Handed to staff\t%d\t%s\n", k.HandedOff, share(k.HandedOff, k.Conversations))
	fmt.Fprintf(tw, "  Cases filed\t%d\tmedian %s from the first message\n", r.CasesFiled, human(r.ToCase))
	fmt.Fprintf(tw, "  Messages not understood\t%d\n", r.Fallbacks)
	fmt.Fprintf(tw, "  Messages clarified\t%d\n", r.Clarified)
	fmt.Fprintf(tw, "  Emergencies\t%d\n", r.Emergencies)
	if r.Feedback.Helpful+r.Feedback.NotHelpful > 0 {
		fmt.Fprintf(tw, "  Was this helpful?\t%d yes\t%d no\n", r.Feedback.Helpful, r.Feedback.NotHelpful)
	}
	tw.Flush()

	tw = section("Conversations by day and channel")
	fmt.Fprintf(tw, "  DAY\t%s\tTOTAL\n", strings.ToUpper(strings.Join(r.Channels, "\t")))
	for _, d := range r.Days {
		fmt.Fprintf(tw, "  %s\t", d.Day)
		for _, ch := range r.Channels {
			fmt.Fprintf(tw, "%d\t", d.ByChannel[ch])
		}
		fmt.Fprintf(tw, "%d\n", d.Total)
	}
	fmt.Fprintf(tw, "  total\t")
	for _, ch := range r.Channels {
		fmt.Fprintf(tw, "%d\t", r.ByChannel[ch])
	}
	fmt.Fprintf(tw, "%d\n", r.Conversations)
	tw.Flush()

	tw = section("Top topics (articles given as answers)")
	for _, t := range r.Topics {
		fmt.Fprintf(tw, "  %d\t%s\t%s\n", t.N, t.Name, t.ID)
	}
	if len(r.Topics) == 0 {
		fmt.Fprintln(tw, "  none")
	}
	tw.Flush()
	if len(r.Guesses) > 0 {
		tw = section(fmt.Sprintf("Answers given with low confidence (under %.0f%%)", 100*r.GuessBelow))
		for _, t := range r.Guesses {
			fmt.Fprintf(tw, "  %d\t%s\t%s\n", t.N, t.Name, t.ID)
		}
		tw.Flush()
	}

	tw = section("Top request types")
	fmt.Fprintln(tw, "  FILED\tSTARTED\tREQUEST TYPE\tCODE")
	for _, q := range r.Requests {
		fmt.Fprintf(tw, "  %d\t%d\t%s\t%s\n", q.Filed, q.Started, q.Name, q.Code)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nKnowledge gaps (%d messages not understood, %d unsure), most frequent first\n", r.Fallbacks, r.Clarified)
	for i, g := range r.Gaps {
		fmt.Fprintf(w, "  %d. %s: %d messages (%d not understood, %d unsure)\n", i+1, g.Title, g.Count, g.Unanswered, g.Unsure)
		fmt.Fprintf(w, "     words: %s; draft article id: %s\n", strings.Join(g.Keywords, ", "), g.Slug())
		var ex []string
		for _, e := range g.Examples {
			ex = append(ex, strconv.Quote(e.Text)+" ×"+strconv.Itoa(e.N))
		}
		fmt.Fprintf(w, "     asked as: %s\n", strings.Join(ex, "; "))
	}
	if len(r.Gaps) == 0 {
		fmt.Fprintln(w, "  none")
	}

	tw = section("Cases by status and age (all cases now)")
	fmt.Fprintf(tw, "  open\t%d\n", r.Cases.Open)
	for _, b := range r.Cases.OpenByAge {
		fmt.Fprintf(tw, "    %s\t%d\n", b.Label, b.N)
	}
	fmt.Fprintf(tw, "  closed\t%d\n", r.Cases.Closed)
	fmt.Fprintf(tw, "  received in the period\t%d\n", r.Cases.OpenedInPeriod)
	fmt.Fprintf(tw, "  closed in the period\t%d\n", r.Cases.ClosedInPeriod)
	tw.Flush()

	tw = section("Handoffs to staff")
	fmt.Fprintf(tw, "  total\t%d\n", r.Handoffs.Total)
	for _, b := range r.Handoffs.ByReason {
		fmt.Fprintf(tw, "    %s\t%d\n", b.Name, b.N)
	}
	fmt.Fprintf(tw, "  talking before the handoff\tmedian %s, 9 in 10 within %s\n", human(r.Handoffs.MedianWait), human(r.Handoffs.P90Wait))
	return tw.Flush()
}

func share(n, total int) string {
	if total == 0 {
		return "0%"
	}
	return strconv.Itoa(int(100*float64(n)/float64(total)+0.5)) + "%"
}

// human writes a duration the way the dashboard does.
func human(d time.Duration) string {
	switch {
	case d <= 0:
		return "0 s"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds()+0.5)) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes()+0.5)) + " min"
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return strconv.Itoa(int(d.Hours()/24+0.5)) + " days"
}
