// Package twiliotest helps tests play Twilio's part: it signs webhook
// requests the way Twilio documents (written here from the
// documentation, not with twilio-go, so the verifier is checked against
// the specification rather than against itself), reads TwiML back as a
// tree, and runs a stand-in for the Messages API.
package twiliotest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cityline/cityline/channels/twilio"
)

// Sign returns X-Twilio-Signature for a POST of params to fullURL
// (twilio.Sign, here beside the rest a test needs).
func Sign(authToken, fullURL string, params url.Values) string {
	return twilio.Sign(authToken, fullURL, params)
}

// Client posts webhooks to a server the way Twilio does.
type Client struct {
	// Base is where the server listens (httptest's URL); PublicURL what
	// the signature is computed over (Base when empty).
	Base, PublicURL string
	AuthToken       string // empty: requests go unsigned
	HTTP            *http.Client
}

// Post sends params to path (which may carry a query) and returns the
// status and body.
func (c *Client) Post(t testing.TB, path string, params url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.Base+path, strings.NewReader(params.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.AuthToken != "" {
		pub := c.PublicURL
		if pub == "" {
			pub = c.Base
		}
		req.Header.Set("X-Twilio-Signature", Sign(c.AuthToken, pub+path, params))
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// Node is an element of a TwiML document.
type Node struct {
	Name     string
	Attrs    map[string]string
	Text     string // the element's own text, trimmed
	Children []*Node
}

// Attr returns an attribute's value.
func (n *Node) Attr(name string) string { return n.Attrs[name] }

// All returns the descendants (and n itself) named name, in document order.
func (n *Node) All(name string) []*Node {
	var out []*Node
	var walk func(*Node)
	walk = func(x *Node) {
		if x.Name == name {
			out = append(out, x)
		}
		for _, c := range x.Children {
			walk(c)
		}
	}
	walk(n)
	return out
}

// Texts returns the text of every element named name, in document order.
func (n *Node) Texts(name string) []string {
	var out []string
	for _, x := range n.All(name) {
		out = append(out, x.Text)
	}
	return out
}

// Verbs and nouns TwiML defines, for voice and messaging responses.
var (
	VoiceVerbs = []string{"Response", "Say", "Play", "Gather", "Dial", "Number", "Client", "Conference",
		"Queue", "Sip", "Redirect", "Pause", "Hangup", "Reject", "Record", "Enqueue", "Leave", "Connect",
		"Stream", "Start", "Stop", "Refer", "Pay", "Prompt", "Parameter", "Sms", "Echo"}
	MessagingVerbs = []string{"Response", "Message", "Body", "Media", "Redirect"}
)

// Parse reads a TwiML document, failing the test when it is not XML with
// a <Response> root made only of the allowed element names.
func Parse(t testing.TB, doc string, allowed []string) *Node {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	var stack []*Node
	var root *Node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("TwiML is not XML: %v\n%s", err, doc)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if !slices.Contains(allowed, x.Name.Local) {
				t.Fatalf("TwiML uses <%s>, not a TwiML verb here:\n%s", x.Name.Local, doc)
			}
			n := &Node{Name: x.Name.Local, Attrs: map[string]string{}}
			for _, a := range x.Attr {
				n.Attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			} else if root != nil {
				t.Fatalf("TwiML has two roots:\n%s", doc)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			n := stack[len(stack)-1]
			n.Text = strings.TrimSpace(n.Text)
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(x)
			} else if strings.TrimSpace(string(x)) != "" {
				t.Fatalf("text outside the TwiML root:\n%s", doc)
			}
		}
	}
	if root == nil || root.Name != "Response" {
		t.Fatalf("TwiML root is not <Response>:\n%s", doc)
	}
	return root
}

// Sent is one message the stand-in accepted.
type Sent struct {
	To, From, Body string
}

// MessagesAPI is a stand-in for Twilio's Messages API that checks what
// Twilio would: the account SID in the path, HTTP basic auth with the SID
// and auth token, and the form fields To, From and Body.
type MessagesAPI struct {
	*httptest.Server
	AccountSID, AuthToken string

	mu   sync.Mutex
	sent []Sent
	// Refuse, when set, makes the stand-in answer a message to that
	// address with Twilio's error 21610 (the recipient unsubscribed).
	Refuse string
	// Problems lists what a request got wrong.
	problems []string
}

// NewMessagesAPI starts a stand-in; it stops with the test.
func NewMessagesAPI(t testing.TB, sid, token string) *MessagesAPI {
	m := &MessagesAPI{AccountSID: sid, AuthToken: token}
	m.Server = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.Close)
	return m
}

func (m *MessagesAPI) problem(w http.ResponseWriter, status, code int, msg string) {
	m.mu.Lock()
	m.problems = append(m.problems, msg)
	m.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "status": status})
}

func (m *MessagesAPI) serve(w http.ResponseWriter, r *http.Request) {
	want := "/2010-04-01/Accounts/" + m.AccountSID + "/Messages.json"
	if r.Method != http.MethodPost || r.URL.Path != want {
		m.problem(w, http.StatusNotFound, 20404, fmt.Sprintf("%s %s: want POST %s", r.Method, r.URL.Path, want))
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != m.AccountSID || pass != m.AuthToken {
		m.problem(w, http.StatusUnauthorized, 20003, "authenticate: wrong or missing basic auth")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		m.problem(w, http.StatusBadRequest, 20001, "content type "+ct)
		return
	}
	if err := r.ParseForm(); err != nil {
		m.problem(w, http.StatusBadRequest, 20001, "form: "+err.Error())
		return
	}
	s := Sent{To: r.PostForm.Get("To"), From: r.PostForm.Get("From"), Body: r.PostForm.Get("Body")}
	switch {
	case s.To == "":
		m.problem(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case s.From == "":
		m.problem(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case s.Body == "":
		m.problem(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	case len([]rune(s.Body)) > 1600:
		m.problem(w, http.StatusBadRequest, 21617, "The concatenated message body exceeds the 1600 character limit.")
		return
	}
	m.mu.Lock()
	refuse := m.Refuse
	m.mu.Unlock()
	if refuse != "" && s.To == refuse {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400})
		return
	}
	m.mu.Lock()
	m.sent = append(m.sent, s)
	sid := fmt.Sprintf("SM%032d", len(m.sent))
	m.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"sid": sid, "account_sid": m.AccountSID, "to": s.To,
		"from": s.From, "body": s.Body, "status": "queued"})
}

// Sent returns the messages accepted so far.
func (m *MessagesAPI) Sent() []Sent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.sent)
}

// Problems returns what requests got wrong so far.
func (m *MessagesAPI) Problems() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.problems)
}
