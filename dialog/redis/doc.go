// Package redis keeps what replicas of `cityline serve` must share in
// Redis, through go-redis's UniversalClient (one server, a Sentinel-managed
// primary or a Cluster, named by one URL: see Open). It is the only
// package that imports go-redis.
//
// What it keeps, every key under one prefix ("cityline:" by default):
//
//	s:{id}            a conversation's session: "<fence>|<JSON>", expires after the session TTL   (Sessions)
//	l:{id}:q, :a, :o  its lock: ticket queue, signs of life, holder — gone when the last turn ends (Locker)
//	l:{id}:n          its ticket counter, which doubles as the fencing token (CounterTTL)
//	r:<message id>    the reply given to a platform message, 24 hours                             (Replays)
//	d:<name>:<id>     a platform event id seen (Slack's event_id), 24 hours                        (Dedup)
//	kv:<name>:<id>    a web chat conversation: token hash, photos, recent transcript               (Records)
//	rl:<name>:<key>   a rate limit's state for one resident or address                             (Limiter)
//	bus:<topic>       pub/sub channels carrying web chat events between replicas                   (Bus)
//	l:{id}:w:<token>  pub/sub channel waking the next turn in a conversation's queue
//
// A conversation's keys share the hash tag {id}, so in a Cluster they
// live in one slot and one script can read and write them together.
//
// # Ordering turns: the Locker
//
// Two messages of one conversation may reach two replicas at the same
// moment (a resident who sends two texts quickly; Twilio retrying a slow
// webhook). They must be handled one after the other, in the order they
// arrived, and never interleaved. The Locker does it with a ticket queue
// per conversation, kept in Redis and changed only by Lua scripts, so
// every step is atomic:
//
//   - Arrival. Lock takes a ticket at once: INCR of the conversation's
//     counter and ZADD of a random token to its queue, in one script. The
//     ticket number is the arrival order as Redis saw it.
//   - Grant. The oldest ticket in the queue holds the conversation. The
//     same script that queues a caller checks whether it is at the head,
//     and if so records it as the holder (SET of the owner key, with a
//     lease in PX). A waiter looks again when the release makes it the
//     next in line (a pub/sub wake-up on a channel of its own, so one
//     waiter looks rather than all) and at least every 200 ms.
//   - Leases. Every member of the queue, holder or waiter, has a deadline
//     in a second sorted set and must renew it: waiters on each look,
//     the holder from a goroutine every third of the lease (5 s) while
//     its turn runs, however long. Each script first forgets members
//     whose deadline passed. So a replica that dies holding a
//     conversation, or waiting for one, delays the others by one lease at
//     most; no ticket can be stuck. The keys themselves expire two leases
//     after the last sign of life, so an abandoned conversation leaves
//     nothing behind.
//   - Release. Only the holder can release: a compare-and-delete script
//     removes the owner key only if it still holds the caller's token,
//     and removes the caller from the queue either way.
//   - Fencing. The ticket of the grant is a fencing token (tickets only
//     grow). A holder paused beyond its lease (a long GC pause, a network
//     partition) may wake up to find the conversation taken over: its
//     session save is then refused (ErrConflict) because the owner key
//     names someone else, or, if nobody holds it now, because the
//     session was since written under a later ticket. Within one
//     process, a gate per conversation also keeps an overrunning turn and
//     the next one apart, so the save always knows whose it is.
//   - Bounds. A wait is bounded (MaxWait, 30 s) and by the caller's
//     context; a waiter that gives up leaves the queue at once.
//
// This is written against the known failures of Rasa's RedisLockStore,
// which serialises conversations across Rasa servers with "ticket locks"
// (rasa/core/lock_store.py):
//
//   - Non-atomic acquire. A conversation's whole lock, its list of
//     tickets, is one JSON value each server reads (GET), changes and
//     writes back (SET); two servers issuing tickets at once overwrite
//     each other (review of RasaHQ/rasa#3933: "this is far from atomic";
//     TicketExistsError retry loops, rasa#4918; a "concurrent" variant,
//     rasa#11256, was reverted in rasa#11428). Here each step is one Lua
//     script.
//   - Stuck tickets. A ticket whose worker died holds the line for its
//     whole lifetime (60 s by default), while waiters poll once a second
//     ("Failed to acquire lock ... Retrying" for a silent user,
//     rasa#5396), and the lock value itself has no expiry. Here a dead
//     member is skipped after one short lease wherever it stands, waiters
//     are woken on release, and every key expires on its own.
//   - Locks held by dead or overrunning workers. The lifetime has to be
//     sized for the longest turn, and a worker that overruns it keeps
//     writing the tracker, since nothing fences its writes. Here the
//     lease is short and renewed while the turn runs, and writes are
//     fenced.
//
// # Degraded mode
//
// When Redis cannot be reached every operation fails quickly with
// ErrUnavailable (short dial and read timeouts unless the URL sets them).
// The engine then answers "we're having trouble, please call 311", and
// nothing is half-written: each session save, reply and record update is
// a single atomic command or script, and a case is in the case database
// before its reference is sent. go-redis connects again by itself when
// Redis returns; locks and waits held in Redis expire on their own, and
// pub/sub subscribers are ended (not left silent) when their connection
// fails, so nothing stays stuck. If Redis restarts empty, conversations
// in progress start afresh; submitted cases are not in Redis and are
// untouched.
package redis
