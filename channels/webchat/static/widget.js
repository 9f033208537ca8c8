/* Cityline web chat widget: plain JavaScript, no dependencies, no build.
 * Embed with one tag; the API is the script's own origin:
 *   <script src="https://311.example.city/widget.js" async></script>
 * Optional: data-lang="fr" on the tag chooses the language.
 * Every word it shows comes from the server (GET /api/v1/config). */
(() => {
  'use strict';
  if (window.Cityline) return;
  const script = document.currentScript || document.querySelector('script[src$="/widget.js"]');
  if (!script) return;
  const base = new URL(script.src, location.href).origin;
  const api = base + '/api/v1';
  const chosenLang = script.getAttribute('data-lang') || '';
  const pageLang = chosenLang || document.documentElement.lang || navigator.language || '';
  const KEY = 'cityline:' + base;
  const reduced = window.matchMedia ? matchMedia('(prefers-reduced-motion: reduce)') : { matches: false };

  let S = {};      // wording from the server
  let cfg = null;  // the rest of /api/v1/config
  const st = { id: null, token: null, lastSeq: 0, open: false, busy: false, photo: null, stream: null, timers: [] };
  let ui = null;

  // ---- little helpers ----
  const fill = (s, vars) => String(s || '').replace(/\{(\w+)\}/g, (m, k) => (vars && k in vars ? vars[k] : m));
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of kids) if (c != null && c !== false) e.append(c);
    return e;
  }
  const load = () => { try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { return {}; } };
  const save = () => {
    try {
      if (st.id) localStorage.setItem(KEY, JSON.stringify({ id: st.id, token: st.token, open: st.open }));
      else localStorage.removeItem(KEY);
    } catch (e) { /* storage off: the chat still works, without surviving a reload */ }
  };
  async function call(method, path, body, opts) {
    const headers = {};
    if (st.token) headers.Authorization = 'Bearer ' + st.token;
    let payload = body;
    if (body && !(body instanceof FormData)) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
    return fetch(api + path, Object.assign({ method, headers, body: payload, credentials: 'omit' }, opts));
  }

  // ---- start ----
  async function init() {
    let res;
    try { res = await fetch(api + '/config?lang=' + encodeURIComponent(pageLang.slice(0, 8)), { credentials: 'omit' }); } catch (e) { return; }
    if (!res.ok) return;
    cfg = await res.json();
    S = cfg.strings || {};
    build();
    hookPage();
    await restore();
    const track = new URLSearchParams(location.search).get('track');
    if (track && document.querySelector('form[data-cityline-track]')) {
      history.replaceState(null, '', location.pathname + location.hash);
      trackRef(track);
    }
  }

  function build() {
    const host = el('div', { id: 'cityline-widget', lang: cfg.lang });
    const root = host.attachShadow({ mode: 'open' });
    const $ = {};
    $.root = root;
    $.launcher = el('button', { type: 'button', class: 'launcher', 'aria-expanded': 'false', 'aria-controls': 'cl-panel', onclick: () => (st.open ? close() : open(true)) },
      el('span', { class: 'bubble', 'aria-hidden': 'true' }), $.launchText = el('span', { text: S.open }));
    $.title = el('h2', { id: 'cl-title', text: S.title });
    $.restart = el('button', { type: 'button', class: 'link', onclick: restart, text: S.restart });
    $.close = el('button', { type: 'button', class: 'x', 'aria-label': S.close, title: S.close, onclick: close }, el('span', { 'aria-hidden': 'true', text: '×' }));
    $.log = el('div', { class: 'log', tabindex: '0', role: 'region', 'aria-label': S.log_label });
    $.notice = el('div', { class: 'notice', hidden: true });
    $.loc = el('button', { type: 'button', class: 'tool', hidden: true, onclick: shareLocation, text: S.location });
    $.photoBtn = el('button', { type: 'button', class: 'tool', hidden: !cfg.photos, onclick: () => $.file.click(), text: S.photo });
    $.skip = el('button', { type: 'button', class: 'tool', hidden: true, onclick: () => say(S.skip_command), text: S.skip });
    $.file = el('input', { type: 'file', accept: (cfg.photo_types || []).join(','), hidden: true, tabindex: '-1', 'aria-hidden': 'true', onchange: pickPhoto });
    $.preview = el('div', { class: 'preview', hidden: true });
    $.hint = el('p', { id: 'cl-hint', class: 'hint', hidden: true, text: S.location_hint });
    $.input = el('input', { id: 'cl-input', type: 'text', autocomplete: 'off', maxlength: '2000', placeholder: S.input_placeholder });
    $.send = el('button', { type: 'submit', class: 'send', text: S.send });
    $.form = el('form', { class: 'composer', onsubmit: (ev) => { ev.preventDefault(); submit(); } },
      el('label', { for: 'cl-input', class: 'sr', text: S.input_label }), $.input, $.send);
    $.panel = el('section', { id: 'cl-panel', class: 'panel', 'aria-labelledby': 'cl-title', hidden: true, onkeydown: (ev) => { if (ev.key === 'Escape') close(); } },
      el('div', { class: 'head' }, el('div', {}, $.title, el('p', { class: 'sub', text: S.subtitle })), $.restart, $.close),
      $.log, $.notice,
      el('div', { class: 'tools' }, $.loc, $.photoBtn, $.skip, $.file), $.preview, $.hint, $.form);
    $.live = el('div', { class: 'sr', 'aria-live': 'polite' });
    $.alert = el('div', { class: 'sr', role: 'alert' });
    root.append(el('link', { rel: 'stylesheet', href: base + '/widget.css' }), $.panel, $.launcher, $.live, $.alert);
    document.body.append(host);
    ui = $;
    greet();
  }

  function greet() {
    ui.log.replaceChildren();
    addBubble('assistant', [textBlock(cfg.greeting)]);
    showChoices((cfg.topics || []).map((t) => ({ id: t.id, label: t.label })));
  }

  function hookPage() {
    document.addEventListener('click', (ev) => {
      const t = ev.target instanceof Element ? ev.target.closest('[data-cityline-open],[data-cityline-choice]') : null;
      if (!t) return;
      ev.preventDefault();
      open(true);
      const id = t.getAttribute('data-cityline-choice');
      if (id) choose({ id, label: t.textContent.trim() });
    });
    document.addEventListener('submit', (ev) => {
      const f = ev.target;
      if (!(f instanceof HTMLFormElement) || !f.hasAttribute('data-cityline-track')) return;
      ev.preventDefault();
      const input = f.querySelector('input');
      if (input && input.value.trim()) { trackRef(input.value.trim()); input.value = ''; }
    });
  }

  async function restore() {
    const saved = load();
    if (!saved.id || !saved.token) return;
    st.id = saved.id; st.token = saved.token;
    let res;
    try { res = await call('GET', '/conversations/' + st.id); } catch (e) { return; }
    if (res.status === 404 || res.status === 401) { forget(); return; }
    if (!res.ok) return;
    const data = await res.json();
    for (const e of data.history || []) showEntry(e, false);
    schedule(data.expires_in);
    listen();
    if (saved.open) open(false);
  }

  // ---- panel ----
  function open(focus) {
    st.open = true;
    ui.panel.hidden = false;
    ui.launcher.setAttribute('aria-expanded', 'true');
    ui.root.host.classList.add('open');
    scrollDown();
    if (focus) ui.input.focus();
    save();
  }
  function close() {
    st.open = false;
    ui.panel.hidden = true;
    ui.launcher.setAttribute('aria-expanded', 'false');
    ui.root.host.classList.remove('open');
    ui.launcher.focus();
    save();
  }
  function scrollDown() {
    ui.log.scrollTo({ top: ui.log.scrollHeight, behavior: reduced.matches ? 'auto' : 'smooth' });
  }
  function announce(text, urgent) {
    const region = urgent ? ui.alert : ui.live;
    const p = el('p', { text });
    region.append(p);
    while (region.childNodes.length > 3) region.firstChild.remove();
  }

  // ---- rendering ----
  const linkRE = /(https?:\/\/[^\s<>"')]+[^\s<>"').,;:!?])/g;
  function textBlock(text) {
    const p = el('p', { class: 'text' });
    let last = 0;
    String(text || '').replace(linkRE, (url, _u, at) => {
      p.append(text.slice(last, at), el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', text: url }));
      last = at + url.length;
      return url;
    });
    p.append(String(text || '').slice(last));
    return p;
  }
  function addBubble(from, parts, extraClass) {
    const who = { resident: S.you, assistant: S.assistant, staff: S.staff, update: S.update }[from] || S.assistant;
    const b = el('div', { class: 'msg ' + from + (extraClass ? ' ' + extraClass : '') }, el('span', { class: 'sr', text: who + ' ' }), ...parts);
    ui.log.append(b);
    return b;
  }
  function clearChoices() {
    for (const c of ui.log.querySelectorAll('.choices')) c.remove();
  }
  function showChoices(choices) {
    clearChoices();
    if (!choices || !choices.length) return;
    const g = el('div', { class: 'choices', role: 'group', 'aria-label': S.choices_label });
    for (const c of choices) g.append(el('button', { type: 'button', class: 'choice', onclick: () => choose(c), text: c.label }));
    ui.log.append(g);
  }

  // showResident puts what the resident sent in the log.
  function showResident(e) {
    clearChoices();
    const parts = [];
    if (e.photo) parts.push(el('img', { src: e.photo, alt: S.photo_alt, class: 'photo' }));
    if (e.location) parts.push(el('p', { class: 'text' }, el('span', { 'aria-hidden': 'true', text: '📍 ' }), S.location_sent));
    if (e.text) parts.push(textBlock(e.text));
    if (parts.length) addBubble('resident', parts);
    scrollDown();
  }

  // showReply renders a reply: its messages, articles in full, a case with
  // its reference, and its choices as buttons.
  function showReply(r, from, speak) {
    if (!r || r.silent) return;
    clearChoices();
    const said = [];
    for (const m of r.messages || []) {
      const parts = [];
      if (m.emergency) parts.push(el('strong', { class: 'label', text: S.emergency }));
      if (m.article) parts.push(article(m.article));
      else parts.push(textBlock(m.text));
      addBubble(from, parts, m.emergency ? 'emergency' : '');
      said.push(m.text);
    }
    if (r.case && r.case.id) showCase(r.case);
    showChoices(r.choices);
    if (from === 'assistant') expect(r);
    scrollDown();
    if (speak) {
      let text = (from === 'assistant' ? S.new_message : from === 'staff' ? S.staff : S.update) + ' ' + said.join(' ');
      if (r.choices && r.choices.length) text += ' ' + fill(S.choices_announce, { list: r.choices.map((c) => c.label).join(', ') });
      announce(text.slice(0, 600));
    }
  }
  function showEntry(e, speak) {
    if (e.seq > st.lastSeq && e.pushed) st.lastSeq = e.seq;
    if (e.from === 'resident') showResident(e);
    else showReply(e.reply, e.from, speak);
  }

  // article shows a knowledge-base answer in full: our own HTML, rendered
  // from the city's Markdown, kept to plain tags on the way in.
  function article(a) {
    const box = el('article', { class: 'article' }, el('h3', { text: a.title }));
    const body = el('div', { class: 'body' });
    const t = document.createElement('template');
    t.innerHTML = a.html || '';
    clean(t.content);
    body.append(t.content);
    box.append(body);
    if (a.url && /^https?:/i.test(a.url)) {
      box.append(el('p', {}, el('a', { href: a.url, target: '_blank', rel: 'noopener noreferrer' }, S.read_more, el('span', { class: 'sr', text: ' ' + S.new_tab }))));
    }
    return box;
  }
  const allowed = new Set(['P', 'UL', 'OL', 'LI', 'STRONG', 'EM', 'B', 'I', 'A', 'CODE', 'PRE', 'BLOCKQUOTE', 'BR', 'HR', 'TABLE', 'THEAD', 'TBODY', 'TR', 'TH', 'TD', 'H4', 'DL', 'DT', 'DD', 'SPAN']);
  function clean(node) {
    for (const c of [...node.children]) {
      if (/^H[1-6]$/.test(c.tagName)) { const h = el('h4'); h.append(...c.childNodes); c.replaceWith(h); clean(h); continue; }
      if (!allowed.has(c.tagName)) { c.remove(); continue; }
      for (const at of [...c.attributes]) {
        const ok = (c.tagName === 'A' && at.name === 'href' && /^(https?:|mailto:|tel:)/i.test(at.value)) || (at.name === 'colspan' || at.name === 'rowspan');
        if (!ok) c.removeAttribute(at.name);
      }
      if (c.tagName === 'A') { c.target = '_blank'; c.rel = 'noopener noreferrer'; }
      clean(c);
    }
  }
  function showCase(c) {
    const card = el('div', { class: 'case' },
      el('p', {}, el('span', { class: 'label', text: S.case_reference + ' ' }), el('strong', { class: 'ref', text: c.id })),
      c.status ? el('p', { text: S.case_status + ': ' + c.status }) : null,
      el('button', { type: 'button', class: 'choice', onclick: () => trackRef(c.id), text: S.track }));
    addBubble('assistant', [card]);
  }

  // expect shows the tools the question calls for: the location button
  // (with the typed-address hint beside it), a skip button.
  function expect(r) {
    const loc = r.expect === 'location' && 'geolocation' in navigator;
    ui.loc.hidden = !loc;
    ui.hint.hidden = r.expect !== 'location';
    if (r.expect === 'location') ui.input.setAttribute('aria-describedby', 'cl-hint');
    else ui.input.removeAttribute('aria-describedby');
    ui.skip.hidden = !r.optional;
  }

  function showNote(text) {
    addBubble('update', [textBlock(text)], 'note');
    scrollDown();
    announce(text);
  }

  // ---- talking to the server ----
  async function ensure() {
    if (st.id) return;
    const res = await call('POST', '/conversations');
    if (!res.ok) throw new Error('create ' + res.status);
    const c = await res.json();
    st.id = c.id; st.token = c.token; st.lastSeq = 0;
    save();
    schedule(c.expires_in);
    listen();
  }

  function submit() {
    const text = ui.input.value.trim();
    if (st.busy || (!text && !st.photo)) { ui.input.focus(); return; }
    ui.input.value = '';
    send({ text }, { text });
  }
  function say(text) { send({ text }, { text }); }
  function choose(c) { send({ choice: c.id }, { text: c.label }); }
  function trackRef(ref) {
    open(true);
    say(fill(S.track_command, { ref: ref.toUpperCase() }));
  }

  async function send(body, shown) {
    if (st.busy) return;
    st.busy = true;
    ui.log.setAttribute('aria-busy', 'true');
    ui.send.textContent = S.sending;
    if (st.photo) { body.photo = st.photo.name; shown.photo = st.photo.url; dropPhoto(); }
    if (chosenLang) body.lang = chosenLang;
    showResident(shown);
    // A pressed choice is gone with the others: keep the keyboard in the chat.
    if (st.open && ui.root.activeElement == null) ui.input.focus();
    try {
      await ensure();
      let res = await call('POST', '/conversations/' + st.id + '/messages', body);
      if (res.status === 404) {
        // The conversation ended while the page was open: start a new one
        // and say it there, rather than lose what the resident wrote.
        forget();
        delete body.photo;
        showNote(S.expired);
        await ensure();
        res = await call('POST', '/conversations/' + st.id + '/messages', body);
      }
      // A 503 or a 429 carries a reply to show: "we're having trouble", "slow down".
      if (res.ok || res.status === 503 || res.status === 429) {
        showReply(await res.json(), 'assistant', true);
        if (res.ok) schedule(cfg.session_ttl);
      } else {
        showNote(S.network_error);
      }
    } catch (e) {
      showNote(S.network_error);
    } finally {
      st.busy = false;
      ui.log.removeAttribute('aria-busy');
      ui.send.textContent = S.send;
    }
  }

  function forget() {
    if (st.stream) st.stream.abort();
    st.stream = null;
    st.id = null; st.token = null; st.lastSeq = 0;
    for (const t of st.timers) clearTimeout(t);
    st.timers = [];
    hideNotice();
    save();
  }
  function restart() {
    forget();
    dropPhoto();
    greet();
    expect({ expect: 'text' });
    ui.input.focus();
  }

  // listen reads the event stream (server-sent events, with fetch so the
  // token stays in a header) and shows what arrives: staff replies,
  // status updates. It reconnects with the last event's id.
  async function listen() {
    if (st.stream || !st.id || !window.ReadableStream) return;
    const ctl = new AbortController();
    st.stream = ctl;
    const id = st.id;
    let wait = 1000;
    while (st.stream === ctl && st.id === id) {
      try {
        const res = await call('GET', '/conversations/' + id + '/events', null,
          { signal: ctl.signal, headers: { Authorization: 'Bearer ' + st.token, 'Last-Event-ID': String(st.lastSeq) } });
        if (res.status === 404) { if (st.id === id) expired(); return; }
        if (res.ok && res.body) {
          wait = 1000;
          const reader = res.body.getReader();
          const dec = new TextDecoder();
          let buf = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
            let i;
            while ((i = buf.indexOf('\n\n')) >= 0) { event(buf.slice(0, i)); buf = buf.slice(i + 2); }
          }
        }
      } catch (e) {
        if (ctl.signal.aborted) return;
      }
      await new Promise((ok) => setTimeout(ok, wait));
      wait = Math.min(wait * 2, 30000);
    }
  }
  function event(block) {
    let data = '';
    for (const line of block.split('\n')) if (line.startsWith('data:')) data += line.slice(5).trim();
    if (!data) return;
    let e;
    try { e = JSON.parse(data); } catch (x) { return; }
    if (e.seq <= st.lastSeq) return;
    st.lastSeq = e.seq;
    showEntry(e, true);
    schedule(cfg.session_ttl);
  }

  // ---- photos ----
  async function pickPhoto() {
    const f = ui.file.files && ui.file.files[0];
    ui.file.value = '';
    if (!f) return;
    if ((cfg.photo_types || []).indexOf(f.type) < 0) { showNote(S.photo_bad_type); return; }
    if (f.size > cfg.max_photo_bytes) { showNote(fill(S.photo_too_big, { mb: Math.floor(cfg.max_photo_bytes / 1048576) })); return; }
    announce(S.photo_uploading);
    try {
      await ensure();
      const form = new FormData();
      form.append('photo', f, f.name);
      const res = await call('POST', '/conversations/' + st.id + '/photos', form);
      if (res.status === 415) { showNote(S.photo_bad_type); return; }
      if (res.status === 413) { showNote(fill(S.photo_too_big, { mb: Math.floor(cfg.max_photo_bytes / 1048576) })); return; }
      if (!res.ok) throw new Error('upload ' + res.status);
      const p = await res.json();
      st.photo = { name: p.photo, url: p.url };
      ui.preview.replaceChildren(el('img', { src: p.url, alt: S.photo_alt }), el('p', { text: S.photo_ready }),
        el('button', { type: 'button', class: 'link', onclick: () => { dropPhoto(); ui.input.focus(); }, text: S.photo_remove }));
      ui.preview.hidden = false;
      announce(S.photo_ready);
      ui.input.focus();
    } catch (e) {
      showNote(S.photo_failed);
    }
  }
  function dropPhoto() {
    st.photo = null;
    ui.preview.hidden = true;
    ui.preview.replaceChildren();
  }

  // ---- location ----
  function shareLocation() {
    ui.loc.disabled = true;
    announce(S.location_locating);
    navigator.geolocation.getCurrentPosition((pos) => {
      ui.loc.disabled = false;
      const text = ui.input.value.trim();
      ui.input.value = '';
      send({ text, location: { lat: pos.coords.latitude, long: pos.coords.longitude } }, { text, location: true });
      ui.input.focus();
    }, () => {
      ui.loc.disabled = false;
      showNote(S.location_failed);
      ui.input.focus();
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  }

  // ---- session expiry: warn, offer to continue, say when it ended ----
  function schedule(seconds) {
    for (const t of st.timers) clearTimeout(t);
    hideNotice();
    if (!st.id || !(seconds > 0)) return;
    const warnAt = Math.max(0, seconds - cfg.warn_before);
    st.timers = [setTimeout(warn, warnAt * 1000), setTimeout(expired, seconds * 1000)];
  }
  function warn() {
    const minutes = Math.max(1, Math.round(cfg.warn_before / 60));
    const text = fill(S.expiry_warning, { minutes });
    ui.notice.replaceChildren(el('p', { text }), el('button', { type: 'button', class: 'choice', onclick: keepAlive, text: S.expiry_continue }));
    ui.notice.hidden = false;
    ui.launchText.textContent = S.open + ' — ' + S.expiry_soon;
    ui.launcher.classList.add('alert');
    announce(text, true);
  }
  function hideNotice() {
    if (!ui) return;
    ui.notice.hidden = true;
    ui.notice.replaceChildren();
    ui.launchText.textContent = S.open;
    ui.launcher.classList.remove('alert');
  }
  async function keepAlive() {
    try {
      const res = await call('POST', '/conversations/' + st.id + '/keepalive');
      if (res.status === 404) { expired(); return; }
      if (!res.ok) throw new Error('keepalive ' + res.status);
      const data = await res.json();
      schedule(data.expires_in);
      announce(S.continued);
      ui.input.focus();
    } catch (e) {
      showNote(S.network_error);
    }
  }
  function expired() {
    if (!st.id) return;
    forget();
    showNote(S.expired);
    expect({ expect: 'text' });
  }

  window.Cityline = {
    open: () => ui && open(true),
    close: () => ui && close(),
    send: (text) => ui && say(String(text)),
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
