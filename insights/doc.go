// Package insights turns what happens in conversations into figures the
// city can decide with, without a data team.
//
// The dialog engine reports events (a conversation started, the router's
// decision, a clarification, a fallback, a case opened, a handoff, a "was
// this helpful?" answer) to a dialog.EventSink. Sink is one: it queues
// events and writes them in batches, from its own goroutine, to the
// events table of the case database (SQLite or PostgreSQL, migration 006
// of cases/sqlite and cases/postgres), so a turn never waits for a disk.
// When the queue is full an event is dropped and counted, never blocking.
//
// No contact details are kept. The conversation id (which for a text
// message is the resident's phone number) is stored only as a keyed hash
// of the id and the day, so a conversation can be counted but a resident
// cannot be followed from one day to the next; the key is made once per
// database. The resident's words are kept only for fallbacks and
// clarifications, already scrubbed of phone numbers, e-mail addresses and
// house numbers by the engine, and scrubbed again here.
//
// Store answers the questions behind the dashboard and `cityline report`
// (Report): volume by day and channel, top topics and request types,
// containment, knowledge gaps grouped by similarity (gaps.go explains
// how), cases by status and age, handoffs and their wait. Popular feeds
// the quick starts with the topics residents used most, the pack's own
// list being the default until there is data. Purge is the retention rule:
// the words of old events and the contact details and descriptions of
// old closed cases are emptied, and every count stays.
//
// The dashboard's HTTP handlers are in insights/admin; the Prometheus
// metrics in insights/metrics, the one package that imports client_golang.
package insights
