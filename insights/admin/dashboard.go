package admin

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/insights"
)

// dashboardPage is what dashboard.html shows.
type dashboardPage struct {
	City    string
	CSRF    string
	Period  string
	Periods []periodOption
	R       *insights.Report
	Charts  charts
	Open    []caseRow
	Query   string // the period, for links
}

type periodOption struct {
	Value, Label string
	Selected     bool
}

type charts struct {
	Volume, Containment, Topics, Requests, Gaps, Cases, Handoffs template.HTML
}

// caseRow is a case as the dashboard lists it: no contact details, the
// place with its house number scrubbed.
type caseRow struct {
	Ref, Service, Status, Place, Channel string
	Received                             time.Time
}

func rowOf(c *cases.Case) caseRow {
	return caseRow{Ref: c.Ref, Service: c.ServiceName, Status: string(c.Status), Place: dialog.Scrub(c.Address),
		Channel: c.Channel, Received: c.Requested}
}

// openListed is how many open cases the dashboard lists.
const openListed = 25

func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request, s session) {
	rep, p, ok := h.report(w, r)
	if !ok {
		return
	}
	page := dashboardPage{City: h.pack.City.Name, CSRF: h.auth.csrf(s), Period: p, R: rep, Query: "period=" + p}
	for _, o := range periods {
		page.Periods = append(page.Periods, periodOption{Value: o.Value, Label: o.Label, Selected: o.Value == p})
	}
	page.Charts = h.charts(rep)
	open, err := h.cases.List(r.Context(), cases.Filter{Status: cases.StatusOpen, Limit: openListed})
	if err != nil {
		h.caseError("list", err)
		h.log.Error("admin: list cases", "err", err)
	}
	for _, c := range open {
		page.Open = append(page.Open, rowOf(c))
	}
	h.render(w, http.StatusOK, "dashboard.html", page)
}

func (h *Handler) caseError(op string, err error) {
	if h.onErr != nil {
		h.onErr(op, err)
	}
}

func (h *Handler) charts(r *insights.Report) charts {
	var c charts
	period := fmt.Sprintf("%s to %s", r.Since.In(h.pack.City.Location()).Format("2 Jan 2006"),
		r.Until.Add(-time.Second).In(h.pack.City.Location()).Format("2 Jan 2006"))

	var cols []stack
	for _, d := range r.Days {
		t, _ := time.Parse(time.DateOnly, d.Day)
		st := stack{label: t.Format("Jan 2"), tip: t.Format("Mon 2 Jan")}
		if len(r.Days) <= 8 {
			st.label = t.Format("Mon 2")
		}
		for _, ch := range r.Channels {
			st.parts = append(st.parts, d.ByChannel[ch])
		}
		cols = append(cols, st)
	}
	c.Volume = columns("volume", "Conversations by day and channel",
		fmt.Sprintf("%d conversations from %s, stacked by channel. The table below has every figure.", r.Conversations, period),
		r.Channels, cols)

	k := r.Containment
	c.Containment = shares("containment", "Containment: conversations resolved without staff",
		fmt.Sprintf("Of %d conversations, %d (%s) ended without staff, %d of them with an answer, a status or a case; %d were handed to staff.",
			k.Conversations, k.Contained, percent(k.Contained, k.Conversations), k.Resolved, k.HandedOff),
		[]share{
			{"Resolved without staff", k.Resolved, "#009E73"},
			{"Ended without staff, unresolved", k.Contained - k.Resolved, "#F0E442"},
			{"Handed to staff", k.HandedOff, "#D55E00"},
		})

	var rows []bar
	for _, t := range r.Topics {
		rows = append(rows, bar{label: t.Name, value: t.N})
	}
	c.Topics = bars("topics", "Top topics: articles given as answers", "Articles given most often as answers, most first.", rows)

	rows = nil
	for _, q := range r.Requests {
		rows = append(rows, bar{label: q.Name, value: q.Filed, note: fmt.Sprintf("filed of %d started", q.Started)})
	}
	c.Requests = bars("requests", "Top request types: cases filed", "Cases filed by request type, with how many reports were started.", rows)

	rows = nil
	for _, g := range r.Gaps {
		rows = append(rows, bar{label: g.Title, value: g.Count})
	}
	c.Gaps = bars("gaps", "Knowledge gaps: unanswered themes", "Themes of messages the assistant could not answer or was unsure of, most frequent first.", rows)

	rows = nil
	for _, b := range r.Cases.OpenByAge {
		rows = append(rows, bar{label: "Open, " + b.Label, value: b.N})
	}
	rows = append(rows, bar{label: "Closed", value: r.Cases.Closed})
	c.Cases = bars("cases", "Cases by status and age",
		fmt.Sprintf("%d open cases by age since they were received, and %d closed cases.", r.Cases.Open, r.Cases.Closed), rows)

	rows = nil
	for _, b := range r.Handoffs.ByReason {
		rows = append(rows, bar{label: b.Name, value: b.N})
	}
	c.Handoffs = bars("handoffs", "Handoffs to staff by reason",
		fmt.Sprintf("%d handoffs; residents had been talking for %s (median) before one.", r.Handoffs.Total, duration(r.Handoffs.MedianWait)), rows)
	return c
}

// draft serves the start of an article for a knowledge gap, as a file.
func (h *Handler) draft(w http.ResponseWriter, r *http.Request, _ session) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		http.NotFound(w, r)
		return
	}
	rep, _, ok := h.report(w, r)
	if !ok {
		return
	}
	if n > len(rep.Gaps) {
		http.NotFound(w, r)
		return
	}
	g := rep.Gaps[n-1]
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+g.Slug()+`.md"`)
	w.Write([]byte(g.Draft()))
}
