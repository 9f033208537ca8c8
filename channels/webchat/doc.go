// Package webchat is the web chat channel: the JSON API the widget talks
// to, the event stream that brings what arrives later (staff replies,
// status updates), photo uploads, the widget itself (plain JavaScript and
// CSS of our own, embedded) and the city's demo front page.
//
// It is a thin adapter. A resident's message becomes a dialog.Inbound for
// the conversation "web:"+id; the engine's dialog.Reply comes back as JSON
// and the widget renders it: choices as buttons, articles in full, a filed
// case with its reference and a "track" action. The only state kept here
// is the web chat's own: who may speak in a conversation (a random token,
// stored hashed) and the recent transcript, so the widget can show the
// conversation again after a page reload. Both live behind small
// interfaces (Store, Broker) with in-memory implementations; when the city
// runs several replicas, SharedStore and BusBroker build them on a store
// and a message bus the replicas share (KV and Bus, which dialog/redis
// implements), so any replica serves any conversation and reaches any
// open event stream.
//
// Routes (see Handler.Register):
//
//	POST /api/v1/conversations                 start: {"id","token"}
//	GET  /api/v1/conversations/{id}            the recent transcript
//	POST /api/v1/conversations/{id}/messages   one turn: {"text"} | {"choice"} | {"location"} | {"photo"}
//	POST /api/v1/conversations/{id}/photos     multipart upload of one photo
//	POST /api/v1/conversations/{id}/keepalive  extend an idle conversation
//	GET  /api/v1/conversations/{id}/events     server-sent events
//	GET  /api/v1/config                        city, greeting, topics, the widget's wording
//	GET  /api/v1/photos/{name}                 an uploaded photo (the case's media_url)
//	GET  /widget.js, /widget.css               the widget
//	GET  /                                     the demo front page
//
// Every conversation route takes "Authorization: Bearer <token>". A wrong
// token and an unknown conversation get the same 404.
//
// Staff's tool for trying the SMS and voice channels in a browser is in
// the simulator subpackage.
package webchat
