package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
)

// casePage is what case.html shows: the case without contact details,
// and the form that updates it.
type casePage struct {
	City        string
	CSRF        string
	Case        caseRow
	Description string // scrubbed, short
	Notes       string
	Updated     time.Time
	Expected    time.Time
	Notify      bool // the resident asked to hear of changes
	Saved       string
	Error       string
}

// maxNotes is the longest status note accepted.
const maxNotes = 2000

// findCase goes to the case a reference names (the dashboard's search).
func (h *Handler) findCase(w http.ResponseWriter, r *http.Request, _ session) {
	ref := cases.NormalizeRef(r.URL.Query().Get("ref"))
	if ref == "" {
		http.Redirect(w, r, "/admin#cases", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/admin/cases/"+url.PathEscape(ref), http.StatusSeeOther)
}

func (h *Handler) casePage(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := h.getCase(w, r)
	if !ok {
		return
	}
	p := h.pageOf(c, s)
	switch r.URL.Query().Get("saved") {
	case "told":
		p.Saved = "Saved. The resident is being told of the change."
	case "untold":
		p.Saved = "Saved. The resident was not told: they did not ask for updates, or left no way to reach them."
	case "failed":
		p.Saved = "Saved, but telling the resident failed. The log says why; you may want to contact them another way."
	case "silent":
		p.Saved = "Saved."
	case "same":
		p.Saved = "Nothing changed."
	}
	h.render(w, http.StatusOK, "case.html", p)
}

func (h *Handler) pageOf(c *cases.Case, s session) casePage {
	desc := dialog.Scrub(c.Description)
	if utf8.RuneCountInString(desc) > 280 {
		desc = string([]rune(desc)[:279]) + "…"
	}
	return casePage{City: h.pack.City.Name, CSRF: h.auth.csrf(s), Case: rowOf(c), Description: desc,
		Notes: c.StatusNotes, Updated: c.Updated, Expected: c.Expected, Notify: c.Contact.Notify}
}

func (h *Handler) getCase(w http.ResponseWriter, r *http.Request) (*cases.Case, bool) {
	ref := r.PathValue("ref")
	c, err := h.cases.Get(r.Context(), ref)
	switch {
	case errors.Is(err, cases.ErrNotFound):
		http.Error(w, "no case has that reference\n", http.StatusNotFound)
		return nil, false
	case err != nil:
		h.caseError("get", err)
		h.log.Error("admin: get case", "err", err)
		http.Error(w, "the case could not be read; the log says why\n", http.StatusServiceUnavailable)
		return nil, false
	}
	return c, true
}

// updateCase changes a case's status and notes, then tells the resident.
func (h *Handler) updateCase(w http.ResponseWriter, r *http.Request, s session) {
	c, ok := h.getCase(w, r)
	if !ok {
		return
	}
	status, err := cases.ParseStatus(r.PostFormValue("status"))
	notes := strings.TrimSpace(strings.ReplaceAll(r.PostFormValue("notes"), "\r\n", "\n"))
	if err != nil || utf8.RuneCountInString(notes) > maxNotes || !utf8.ValidString(notes) {
		p := h.pageOf(c, s)
		p.Notes = notes
		p.Error = "Choose open or closed, and keep the notes under 2,000 characters."
		h.render(w, http.StatusBadRequest, "case.html", p)
		return
	}
	var ch cases.Change
	if status != c.Status {
		ch.Status = &status
	}
	if notes != c.StatusNotes {
		ch.Notes = &notes
	}
	back := "/admin/cases/" + url.PathEscape(c.Ref) + "?saved="
	if ch.Status == nil && ch.Notes == nil {
		http.Redirect(w, r, back+"same", http.StatusSeeOther)
		return
	}
	updated, err := h.cases.Update(r.Context(), c.Ref, ch)
	if err != nil {
		h.caseError("update", err)
		h.log.Error("admin: update case", "ref", c.Ref, "err", err)
		http.Error(w, "the case could not be saved; the log says why\n", http.StatusServiceUnavailable)
		return
	}
	h.log.Info("admin: case updated", "ref", updated.Ref, "status", updated.Status)
	http.Redirect(w, r, back+h.tell(r.Context(), updated), http.StatusSeeOther)
}

// tell notifies the resident and says how it went: told, untold (no way
// to), failed, or silent (no notifier).
func (h *Handler) tell(ctx context.Context, c *cases.Case) string {
	if h.notify == nil {
		return "silent"
	}
	// The update is saved; telling the resident must not hang the page.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	err := h.notify(ctx, c)
	switch {
	case err == nil:
		return "told"
	case errors.Is(err, ErrUnreachable):
		return "untold"
	}
	h.log.Error("admin: tell the resident", "ref", c.Ref, "err", err)
	return "failed"
}
