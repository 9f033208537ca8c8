package admin

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The charts are SVG written here, on the server: no script, no
// third-party code, nothing fetched, so the dashboard works offline and
// prints. Each is an image with a title and a description for screen
// readers (role="img", aria-labelledby); the page puts the same figures in
// a table beside it and offers them as CSV. Colours are the Okabe–Ito
// palette, told apart by people with colour-blindness, and every value is
// also written as text. Only presentation attributes are used, so the
// page's Content-Security-Policy can forbid inline styles.

const (
	chartWidth = 720
	fontFamily = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
	textColour = "#1f2933"
	mutedText  = "#52606d"
	gridColour = "#d9e2ec"
	barColour  = "#0072B2"
)

// channelColours are the colours of channels in every chart.
var channelColours = map[string]string{
	"web":      "#0072B2",
	"sms":      "#E69F00",
	"whatsapp": "#009E73",
	"voice":    "#CC79A7",
	"slack":    "#56B4E9",
}

var spareColours = []string{"#D55E00", "#F0E442", "#000000", "#999999"}

func channelColour(ch string, i int) string {
	if c, ok := channelColours[ch]; ok {
		return c
	}
	return spareColours[i%len(spareColours)]
}

// svg builds one chart.
type svg struct {
	b      strings.Builder
	id     string
	height int
}

func newSVG(id, title, desc string, height int) *svg {
	s := &svg{id: id, height: height}
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-labelledby="%s-t %s-d" viewBox="0 0 %d %d" width="100%%" font-family="%s" font-size="13" fill="%s">`,
		id, id, chartWidth, height, fontFamily, textColour)
	fmt.Fprintf(&s.b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, esc(title), id, esc(desc))
	return s
}

func (s *svg) html() template.HTML {
	s.b.WriteString(`</svg>`)
	return template.HTML(s.b.String()) // every text went through esc
}

func (s *svg) text(x, y float64, anchor, fill, text string, extra ...string) {
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" text-anchor="%s" fill="%s"%s>%s</text>`, f(x), f(y), anchor, fill,
		strings.Join(extra, ""), esc(text))
}

func (s *svg) rect(x, y, w, h float64, fill, tip string) {
	if w <= 0 || h <= 0 {
		return
	}
	fmt.Fprintf(&s.b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s</title></rect>`,
		f(x), f(y), f(w), f(h), fill, esc(tip))
}

func (s *svg) line(x1, y1, x2, y2 float64, stroke string) {
	fmt.Fprintf(&s.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`, f(x1), f(y1), f(x2), f(y2), stroke)
}

func esc(s string) string { return template.HTMLEscapeString(s) }

func f(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// niceMax rounds v up to 1, 2 or 5 times a power of ten, for an axis.
func niceMax(v int) int {
	if v <= 5 {
		return 5
	}
	p := math.Pow(10, math.Floor(math.Log10(float64(v))))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if float64(v) <= m*p {
			return int(m * p)
		}
	}
	return v
}

func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// stack is one column of a stacked column chart.
type stack struct {
	label string // under the column
	tip   string // the column's name in tooltips
	parts []int  // one per series
}

// columns draws stacked columns (conversations by day, stacked by
// channel) with a legend.
func columns(id, title, desc string, series []string, cols []stack) template.HTML {
	const (
		height = 300
		left   = 48.0
		right  = 12.0
		top    = 40.0
		bottom = 44.0
	)
	s := newSVG(id, title, desc, height)
	// Legend.
	x := left
	for i, name := range series {
		s.rect(x, 12, 12, 12, channelColour(name, i), name)
		s.text(x+17, 22.5, "start", textColour, name)
		x += 30 + float64(7*utf8.RuneCountInString(name))
	}
	peak := 0
	for _, c := range cols {
		t := 0
		for _, p := range c.parts {
			t += p
		}
		peak = max(peak, t)
	}
	top0 := niceMax(peak)
	plotH := height - top - bottom
	plotW := chartWidth - left - right
	for i := 0; i <= 5; i++ {
		v := top0 * i / 5
		y := top + plotH - plotH*float64(v)/float64(top0)
		s.line(left, y, chartWidth-right, y, gridColour)
		s.text(left-6, y+4, "end", mutedText, strconv.Itoa(v))
	}
	if len(cols) == 0 {
		return s.html()
	}
	slot := plotW / float64(len(cols))
	w := math.Max(2, slot*0.7)
	every := max(1, int(math.Ceil(float64(len(cols))*46/plotW)))
	for i, c := range cols {
		x := left + slot*float64(i) + (slot-w)/2
		y := top + plotH
		total := 0
		for j, p := range c.parts {
			h := plotH * float64(p) / float64(top0)
			y -= h
			s.rect(x, y, w, h, channelColour(series[j], j), fmt.Sprintf("%s, %s: %d", c.tip, series[j], p))
			total += p
		}
		if total > 0 && w >= 14 {
			s.text(x+w/2, y-4, "middle", mutedText, strconv.Itoa(total), ` font-size="11"`)
		}
		if i%every == 0 {
			s.text(x+w/2, top+plotH+16, "middle", mutedText, c.label, ` font-size="11"`)
		}
	}
	s.line(left, top+plotH, chartWidth-right, top+plotH, mutedText)
	return s.html()
}

// bar is one row of a horizontal bar chart.
type bar struct {
	label string
	value int
	note  string // after the value: "of 12", "3 filed"
}

// bars draws horizontal bars, one a row, labelled on the left, the value
// at the end.
func bars(id, title, desc string, rows []bar) template.HTML {
	const (
		rowH   = 26.0
		labelW = 250.0
		valueW = 170.0
		top    = 8.0
	)
	height := int(top*2 + rowH*float64(max(len(rows), 1)))
	s := newSVG(id, title, desc, height)
	peak := 1
	for _, r := range rows {
		peak = max(peak, r.value)
	}
	plotW := chartWidth - labelW - valueW
	for i, r := range rows {
		y := top + rowH*float64(i)
		s.text(labelW-8, y+rowH/2+4.5, "end", textColour, shorten(r.label, 31))
		w := plotW * float64(r.value) / float64(peak)
		s.rect(labelW, y+4, math.Max(w, 1), rowH-8, barColour, fmt.Sprintf("%s: %d", r.label, r.value))
		v := strconv.Itoa(r.value)
		if r.note != "" {
			v += " " + r.note
		}
		s.text(labelW+math.Max(w, 1)+6, y+rowH/2+4.5, "start", textColour, v)
	}
	if len(rows) == 0 {
		s.text(chartWidth/2, top+rowH/2+4, "middle", mutedText, "Nothing yet in this period")
	}
	return s.html()
}

// share is one part of a whole.
type share struct {
	label  string
	value  int
	colour string
}

// shares draws one bar split into parts of a whole (containment), with
// each part's count and percentage below.
func shares(id, title, desc string, parts []share) template.HTML {
	const height = 116
	s := newSVG(id, title, desc, height)
	total := 0
	for _, p := range parts {
		total += p.value
	}
	x := 10.0
	w := float64(chartWidth - 20)
	for _, p := range parts {
		if total == 0 {
			break
		}
		pw := w * float64(p.value) / float64(total)
		s.rect(x, 12, pw, 36, p.colour, fmt.Sprintf("%s: %d (%s)", p.label, p.value, percent(p.value, total)))
		x += pw
	}
	if total == 0 {
		s.rect(10, 12, w, 36, gridColour, "no conversations")
	}
	// The legend, wrapped onto a second line when it does not fit.
	lx, ly := 10.0, 62.0
	for _, p := range parts {
		txt := fmt.Sprintf("%s: %d (%s)", p.label, p.value, percent(p.value, total))
		w := 40 + float64(7*utf8.RuneCountInString(txt))
		if lx > 10 && lx+w > chartWidth {
			lx, ly = 10, ly+26
		}
		s.rect(lx, ly, 12, 12, p.colour, p.label)
		s.text(lx+17, ly+10.5, "start", textColour, txt)
		lx += w
	}
	return s.html()
}

func percent(n, total int) string {
	if total == 0 {
		return "0%"
	}
	return strconv.FormatFloat(100*float64(n)/float64(total), 'f', 0, 64) + "%"
}

// duration writes a wait for people: "45 s", "3 min", "2 h 10 min".
func duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds()+0.5)) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes()+0.5)) + " min"
	case d < 48*time.Hour:
		h := int(d.Hours())
		return fmt.Sprintf("%d h %d min", h, int(d.Minutes())-60*h)
	}
	return strconv.Itoa(int(d.Hours()/24+0.5)) + " days"
}
