CREATE TABLE followers (
    case_id       INTEGER NOT NULL REFERENCES cases (id),
    conversation  TEXT NOT NULL,
    channel       TEXT NOT NULL DEFAULT '',
    lang          TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    notify        INTEGER NOT NULL DEFAULT 0,
    since         TEXT NOT NULL,
    PRIMARY KEY (case_id, conversation)
);
