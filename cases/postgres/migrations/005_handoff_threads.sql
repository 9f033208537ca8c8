-- Staff handoff threads (Slack): which conversation a staff thread is
-- about, so a staff reply finds its resident after a restart and on any
-- replica. due is when the resident is owed word if no staff member has
-- replied ('' once they have, or once they were told); closed is set when
-- staff hand the conversation back.
CREATE TABLE handoff_threads (
    thread       TEXT PRIMARY KEY,
    conversation TEXT NOT NULL,
    channel      TEXT NOT NULL DEFAULT '',
    contact      TEXT NOT NULL DEFAULT '',
    lang         TEXT NOT NULL DEFAULT '',
    opened       TEXT NOT NULL,
    due          TEXT NOT NULL DEFAULT '',
    taken_by     TEXT NOT NULL DEFAULT '',
    closed       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX handoff_threads_due ON handoff_threads (due) WHERE due <> '';
