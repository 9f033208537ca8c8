// Package open311 makes Cityline a citizen of the Open311 GeoReport v2
// ecosystem both ways.
//
// Handler is a GeoReport v2 server over a cases.Store, mounted at
// /open311/v2/: discovery, the service list and definitions (from a
// Catalog: the content pack, or the upstream's), service requests (GET
// with the standard filters plus page/page_size and lat/long/radius,
// POST with an api_key), and tokens for batch services, each in XML and
// JSON. Requests filed through it are the same cases residents file in
// conversations. Contact details are stored with the case and never
// published.
//
// Client speaks to another GeoReport v2 server: in upstream mode, the
// city's own CRM. Cache keeps its service list and definitions (the last
// good copy when it is down). Relay forwards cases through the durable
// outbox the store keeps (cases.Dispatch) and copies the upstream's
// status back.
//
// # Delivering exactly once without the upstream's help
//
// GeoReport v2 offers no idempotency. The Relay therefore (1) records
// each attempt (state sending, an attempt id, a lease) before the POST,
// (2) sends an Idempotency-Key header, stable for the case, that an
// upstream may honour, and (3) writes the case's reference into the
// description it posts ("Cityline reference: EX-000123", as FixMyStreet
// writes its report URL). When an attempt's outcome is unknown — a
// timeout, a 5xx, a dropped connection, or a process that stopped between
// the upstream's answer and the commit — the request is looked for
// upstream (GET requests by service and date, matched on that line)
// before anything is sent again. Only an answer saying "no such request"
// allows a new POST; an upstream that cannot be asked is waited for.
//
// The package imports only cases and the standard library; library
// settings come in through Config structs, clocks and loggers are
// injected.
package open311
