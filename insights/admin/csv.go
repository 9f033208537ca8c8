package admin

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"

	"github.com/cityline/cityline/insights"
)

// Tables are the CSV downloads, one per chart (and one of the single
// figures), by file name. Every row is a figure: no contact details, and
// the residents' own words (in gaps.csv) are scrubbed.
var tables = map[string]func(*insights.Report) [][]string{
	"volume.csv": func(r *insights.Report) [][]string {
		head := append([]string{"day"}, r.Channels...)
		out := [][]string{append(head, "total")}
		for _, d := range r.Days {
			row := []string{d.Day}
			for _, ch := range r.Channels {
				row = append(row, itoa(d.ByChannel[ch]))
			}
			out = append(out, append(row, itoa(d.Total)))
		}
		return out
	},
	"containment.csv": func(r *insights.Report) [][]string {
		k := r.Containment
		return [][]string{
			{"conversations", "resolved_without_staff", "ended_without_staff", "handed_to_staff", "contained_share"},
			{itoa(k.Conversations), itoa(k.Resolved), itoa(k.Contained), itoa(k.HandedOff), strconv.FormatFloat(k.Rate(), 'f', 3, 64)},
		}
	},
	"topics.csv": func(r *insights.Report) [][]string {
		out := [][]string{{"article_id", "title", "answers"}}
		for _, t := range r.Topics {
			out = append(out, []string{t.ID, t.Name, itoa(t.N)})
		}
		return out
	},
	"guesses.csv": func(r *insights.Report) [][]string {
		out := [][]string{{"article_id", "title", "answers_with_low_confidence"}}
		for _, t := range r.Guesses {
			out = append(out, []string{t.ID, t.Name, itoa(t.N)})
		}
		return out
	},
	"requests.csv": func(r *insights.Report) [][]string {
		out := [][]string{{"service_code", "service", "reports_started", "cases_filed"}}
		for _, q := range r.Requests {
			out = append(out, []string{q.Code, q.Name, itoa(q.Started), itoa(q.Filed)})
		}
		return out
	},
	"gaps.csv": func(r *insights.Report) [][]string {
		out := [][]string{{"rank", "suggested_title", "messages", "unanswered", "unsure", "lang", "keywords", "examples"}}
		for i, g := range r.Gaps {
			var ex []string
			for _, e := range g.Examples {
				ex = append(ex, e.Text)
			}
			out = append(out, []string{itoa(i + 1), g.Title, itoa(g.Count), itoa(g.Unanswered), itoa(g.Unsure), g.Lang,
				strings.Join(g.Keywords, " "), strings.Join(ex, " | ")})
		}
		return out
	},
	"cases.csv": func(r *insights.Report) [][]string {
		out := [][]string{{"status", "age", "cases"}}
		for _, b := range r.Cases.OpenByAge {
			out = append(out, []string{"open", b.Label, itoa(b.N)})
		}
		return append(out, []string{"closed", "", itoa(r.Cases.Closed)})
	},
	"handoffs.csv": func(r *insights.Report) [][]string {
		out := [][]string{{"reason", "description", "handoffs"}}
		for _, b := range r.Handoffs.ByReason {
			out = append(out, []string{b.ID, b.Name, itoa(b.N)})
		}
		return out
	},
	"summary.csv": func(r *insights.Report) [][]string {
		k := r.Containment
		rows := [][]string{
			{"figure", "value"},
			{"since", r.Since.UTC().Format("2006-01-02T15:04:05Z")},
			{"until", r.Until.UTC().Format("2006-01-02T15:04:05Z")},
			{"conversations", itoa(r.Conversations)},
			{"resolved_without_staff", itoa(k.Resolved)},
			{"ended_without_staff", itoa(k.Contained)},
			{"handed_to_staff", itoa(k.HandedOff)},
			{"cases_filed", itoa(r.CasesFiled)},
			{"median_seconds_to_file_a_case", itoa(int(r.ToCase.Seconds()))},
			{"messages_not_understood", itoa(r.Fallbacks)},
			{"messages_clarified", itoa(r.Clarified)},
			{"emergencies", itoa(r.Emergencies)},
			{"handoff_median_wait_seconds", itoa(int(r.Handoffs.MedianWait.Seconds()))},
			{"handoff_p90_wait_seconds", itoa(int(r.Handoffs.P90Wait.Seconds()))},
			{"open_cases", itoa(r.Cases.Open)},
			{"closed_cases", itoa(r.Cases.Closed)},
			{"cases_received_in_period", itoa(r.Cases.OpenedInPeriod)},
			{"cases_closed_in_period", itoa(r.Cases.ClosedInPeriod)},
			{"helpful", itoa(r.Feedback.Helpful)},
			{"not_helpful", itoa(r.Feedback.NotHelpful)},
		}
		for _, ch := range r.Channels {
			rows = append(rows, []string{"conversations_" + ch, itoa(r.ByChannel[ch])})
		}
		return rows
	},
}

func itoa(n int) string { return strconv.Itoa(n) }

// csv serves one table of the report for the period asked.
func (h *Handler) csv(w http.ResponseWriter, r *http.Request, _ session) {
	name := r.PathValue("name")
	table, ok := tables[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	rep, _, ok := h.report(w, r)
	if !ok {
		return
	}
	loc := h.pack.City.Location()
	file := "cityline-" + strings.TrimSuffix(name, ".csv") + "-" + rep.Since.In(loc).Format("2006-01-02") + "-to-" +
		rep.Until.In(loc).Format("2006-01-02") + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+file+`"`)
	cw := csv.NewWriter(w)
	for _, row := range table(rep) {
		for i, cell := range row {
			row[i] = defuse(cell)
		}
		cw.Write(row)
	}
	cw.Flush()
}

// defuse keeps a spreadsheet from reading a cell as a formula: residents'
// words could start with =, +, - or @.
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
