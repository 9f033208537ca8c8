-- Insights: one row per thing worth counting (a conversation started, a
-- decision, a clarification, a fallback, a case opened, a handoff, a
-- "was this helpful?" answer). No contact details: conversation is a keyed
-- hash of the conversation id and the day, text is the resident's words
-- scrubbed of phone numbers, e-mails and house numbers (and emptied by
-- retention), at is UTC in the cases' text layout and day is the city's
-- local date.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    day          TEXT NOT NULL,
    type         TEXT NOT NULL,
    conversation TEXT NOT NULL DEFAULT '',
    channel      TEXT NOT NULL DEFAULT '',
    lang         TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL DEFAULT '',
    target       TEXT NOT NULL DEFAULT '',
    confidence   REAL NOT NULL DEFAULT 0,
    text         TEXT NOT NULL DEFAULT '',
    ref          TEXT NOT NULL DEFAULT '',
    elapsed_ms   INTEGER NOT NULL DEFAULT 0,
    helpful      INTEGER
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_type_at ON events (type, at);
CREATE INDEX events_conversation ON events (conversation);
-- Secrets of the insights, made once per database: the key of the
-- conversation hash.
CREATE TABLE insights_keys (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
