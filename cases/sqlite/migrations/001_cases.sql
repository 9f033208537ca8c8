CREATE TABLE cases (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    ref           TEXT UNIQUE,
    idem_key      TEXT UNIQUE,
    token         TEXT UNIQUE,
    service_code  TEXT NOT NULL,
    service_name  TEXT NOT NULL,
    status        TEXT NOT NULL,
    status_notes  TEXT NOT NULL DEFAULT '',
    description   TEXT NOT NULL DEFAULT '',
    agency        TEXT NOT NULL DEFAULT '',
    notice        TEXT NOT NULL DEFAULT '',
    requested     TEXT NOT NULL,
    updated       TEXT NOT NULL,
    expected      TEXT NOT NULL DEFAULT '',
    address       TEXT NOT NULL DEFAULT '',
    address_id    TEXT NOT NULL DEFAULT '',
    zipcode       TEXT NOT NULL DEFAULT '',
    lat           REAL,
    long          REAL,
    media         TEXT NOT NULL DEFAULT '',
    attributes    TEXT NOT NULL DEFAULT '',
    channel       TEXT NOT NULL DEFAULT '',
    lang          TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    device_id     TEXT NOT NULL DEFAULT '',
    account_id    TEXT NOT NULL DEFAULT '',
    notify        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX cases_requested ON cases (requested);
CREATE INDEX cases_service ON cases (service_code, requested);
CREATE INDEX cases_phone ON cases (phone) WHERE phone <> '';
CREATE INDEX cases_location ON cases (lat, long) WHERE lat IS NOT NULL;
