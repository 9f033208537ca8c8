-- Addresses that texted STOP: nothing is sent to them until they text START.
CREATE TABLE optouts (
    address TEXT PRIMARY KEY,
    since   TEXT NOT NULL
);
