-- Upstream mode: each case on its way to the city's own Open311 server,
-- written in the transaction that stores the case. The sender and the
-- status poller move a row along (pending, sending, sent, accepted,
-- failed); version guards every change, so two replicas never act on the
-- same row at once.
CREATE TABLE upstream_outbox (
    case_id        INTEGER PRIMARY KEY REFERENCES cases (id),
    state          TEXT NOT NULL,
    attempt        TEXT NOT NULL DEFAULT '',
    attempts       INTEGER NOT NULL DEFAULT 0,
    rejections     INTEGER NOT NULL DEFAULT 0,
    first_try      TEXT NOT NULL DEFAULT '',
    next_at        TEXT NOT NULL,
    upstream_id    TEXT NOT NULL DEFAULT '',
    upstream_token TEXT NOT NULL DEFAULT '',
    last_error     TEXT NOT NULL DEFAULT '',
    seen_status    TEXT NOT NULL DEFAULT '',
    seen_notes     TEXT NOT NULL DEFAULT '',
    seen_expected  TEXT NOT NULL DEFAULT '',
    updated        TEXT NOT NULL,
    version        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX upstream_outbox_due ON upstream_outbox (state, next_at);

-- Changes a resident asked to hear about (status or notes of a case with
-- notify set), written in the transaction that changes the case, by
-- whichever process made it; `serve` claims and delivers them once.
CREATE TABLE notifications (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id  INTEGER NOT NULL REFERENCES cases (id),
    created  TEXT NOT NULL,
    state    TEXT NOT NULL DEFAULT 'pending',
    claimed  TEXT NOT NULL DEFAULT '',
    result   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notifications_state ON notifications (state, id);
