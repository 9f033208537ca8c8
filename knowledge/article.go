package knowledge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

var errEOF = io.EOF

var markdown = goldmark.New()

// parseArticle reads one article: YAML front matter between "---" lines,
// then a Markdown body. On error it returns the line it concerns.
func parseArticle(data []byte) (*Article, int, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	if !utf8.Valid(data) {
		// Often a file saved as Windows-1252 or Latin-1: its accents
		// would reach residents as garbage, so the pack says where.
		line := 1
		for len(data) > 0 {
			r, size := utf8.DecodeRune(data)
			if r == utf8.RuneError && size <= 1 {
				break
			}
			if r == '\n' {
				line++
			}
			data = data[size:]
		}
		return nil, line, errors.New("not UTF-8: save the file as UTF-8")
	}
	if !bytes.HasPrefix(data, []byte("---\n")) {
		return nil, 1, errors.New("no front matter: the file must start with a line \"---\"")
	}
	rest := data[4:]
	end := bytes.Index(rest, []byte("\n---\n"))
	var front, body []byte
	switch {
	case end >= 0:
		front, body = rest[:end+1], rest[end+5:]
	case bytes.HasSuffix(rest, []byte("\n---")):
		front = rest[:len(rest)-3]
	default:
		return nil, 1, errors.New("front matter is not closed by a line \"---\"")
	}
	a := &Article{}
	if err := decodeYAML(front, a); err != nil {
		line := yamlLine(err)
		if line > 0 {
			line++ // the opening "---"
		}
		return nil, line, fmt.Errorf("front matter: %s", yamlMsg(err))
	}
	a.Body = strings.TrimSpace(string(body))
	src := []byte(a.Body)
	doc := markdown.Parser().Parse(text.NewReader(src))
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		if n.Kind() == ast.KindParagraph {
			a.Short = strings.TrimSpace(plainText(n, src))
			break
		}
	}
	var html bytes.Buffer
	if err := markdown.Renderer().Render(&html, src, doc); err != nil {
		return nil, 0, fmt.Errorf("render markdown: %w", err)
	}
	a.HTML = html.String()
	return a, 0, nil
}

// plainText flattens a Markdown node to the text a resident reads on a
// phone: emphasis and links keep their words, line breaks become spaces.
func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch t := c.(type) {
		case *ast.Text:
			b.Write(t.Segment.Value(src))
			if t.SoftLineBreak() || t.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(t.Value)
		case *ast.AutoLink:
			b.Write(t.URL(src))
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}
