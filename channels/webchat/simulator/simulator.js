/* Cityline SMS and voice simulator: a staff page. It posts to
 * /simulator/sms and /simulator/voice, which hand Twilio-style webhooks to
 * the real channel handlers, and plays the TwiML they answer with. */
(() => {
  'use strict';
  // The admin token, when the page was opened with ?token=: kept for this
  // tab only, and taken out of the address bar.
  const q = new URLSearchParams(location.search);
  if (q.get('token')) {
    sessionStorage.setItem('cityline-admin', q.get('token'));
    history.replaceState(null, '', location.pathname);
  }
  const token = sessionStorage.getItem('cityline-admin');
  const $ = (id) => document.getElementById(id);

  async function post(path, body) {
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
    const data = await res.json().catch(() => ({ error: 'HTTP ' + res.status }));
    if (!res.ok) throw new Error(data.error || 'HTTP ' + res.status);
    return data;
  }
  function bubble(thread, kind, text) {
    const b = document.createElement('div');
    b.className = 'b ' + kind;
    b.textContent = text;
    thread.append(b);
    thread.scrollTop = thread.scrollHeight;
  }

  // ---- text messages ----
  $('sms-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = $('sms-text').value;
    if (!text.trim()) return;
    $('sms-text').value = '';
    bubble($('sms-thread'), 'out', text);
    try {
      const r = await post('/simulator/sms', { from: $('sms-from').value.trim(), body: text });
      if (!r.replies.length) bubble($('sms-thread'), 'sys', '(no reply)');
      for (const m of r.replies) bubble($('sms-thread'), 'in', m);
    } catch (e) {
      bubble($('sms-thread'), 'sys', 'Error: ' + e.message);
    }
  });

  // ---- the call ----
  const call = { sid: '', gather: null, rest: [], digits: '' };
  const vt = $('voice-thread');
  const keys = [...document.querySelectorAll('.keypad button')];
  function inCall(on, status) {
    $('call').disabled = on;
    $('hangup').disabled = !on;
    $('voice-status').textContent = status;
  }
  function listening(on) {
    for (const b of keys) b.disabled = !on;
    $('speech').disabled = !on;
    $('speak').disabled = !on;
    $('silent').disabled = !on;
    if (on) $('speech').focus();
  }
  function end(status) {
    call.sid = ''; call.gather = null; call.rest = []; call.digits = '';
    listening(false);
    inCall(false, status);
    $('call').focus();
  }

  // play runs the verbs as Twilio would, until a Gather waits for the caller.
  async function play(verbs) {
    while (verbs.length) {
      const v = verbs.shift();
      switch (v.verb) {
        case 'say': bubble(vt, 'in', v.text); break;
        case 'gather':
          for (const p of v.prompts || []) bubble(vt, 'in', p);
          call.gather = v; call.rest = verbs; call.digits = '';
          listening(true);
          $('voice-status').textContent = 'Listening' + (v.num_digits ? ' (' + v.num_digits + ' key)' : '') + (v.hints ? '. Hints: ' + v.hints : '');
          return;
        case 'dial': bubble(vt, 'sys', 'Transferring to ' + v.text + ' (the simulator places no real call).'); break;
        case 'pause': break;
        case 'redirect': return request({ url: v.text });
        case 'hangup': end('The call ended.'); return;
      }
    }
    end('The call ended.');
  }
  async function request(body) {
    listening(false);
    try {
      const r = await post('/simulator/voice', Object.assign({ call: call.sid, from: $('voice-from').value.trim() }, body));
      call.sid = r.call;
      await play(r.verbs);
    } catch (e) {
      bubble(vt, 'sys', 'Error: ' + e.message);
      end('The call failed.');
    }
  }
  function answer(what) {
    const g = call.gather;
    if (!g) return;
    call.gather = null;
    bubble(vt, 'out', what.speech ? what.speech : 'Pressed ' + what.digits);
    request(Object.assign({ url: g.action }, what));
  }

  $('call').addEventListener('click', () => {
    vt.replaceChildren();
    call.sid = '';
    inCall(true, 'Calling…');
    bubble(vt, 'sys', 'Calling ' + document.title.split(' — ')[0] + ' from ' + $('voice-from').value.trim());
    request({ url: '' });
  });
  $('hangup').addEventListener('click', () => { bubble(vt, 'sys', 'You hung up.'); end('Not in a call.'); });
  $('speech-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const s = $('speech').value.trim();
    if (!s || !call.gather) return;
    $('speech').value = '';
    answer({ speech: s });
  });
  for (const b of keys) {
    b.addEventListener('click', () => {
      const g = call.gather;
      if (!g) return;
      const k = b.textContent;
      if (k === (g.finish_on_key || '#')) {
        if (call.digits) answer({ digits: call.digits });
        return;
      }
      call.digits += k;
      $('voice-status').textContent = 'Keys: ' + call.digits;
      if (g.num_digits && call.digits.length >= g.num_digits) answer({ digits: call.digits });
    });
  }
  $('silent').addEventListener('click', () => {
    if (!call.gather) return;
    bubble(vt, 'sys', '(silence)');
    call.gather = null;
    listening(false);
    play(call.rest);
  });
})();
