// The tether page: relays the laptop's packets (binary messages) between
// its WebSocket to the laptop and its WebSocket to the gateway, untouched,
// and does for the laptop what the laptop cannot reach: the gateway's
// JSON-RPC calls. The laptop decides everything else (plugins/tunnel/tether).
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const show = (id, text) => { $(id).textContent = text; };
  // Packets wait in the browser at most this long a queue per socket; more
  // are dropped, as a router drops them, instead of piling up in memory.
  const maxBuffered = 4 << 20;

  let laptop = null;
  let gateway = null;
  let retry = 1000;
  let code = sessionStorage.getItem('mnigs-tether-code') || '';
  const counts = { up: 0, down: 0, dropped: 0 };
  let last = { up: 0, down: 0, at: performance.now() };
  let wakeLock = null;
  let pairedOnce = false;  // this tab paired with the code it holds
  let retryTimer = null;

  // The code may come in the URL after '#' (a QR code): browsers never send
  // that part to a server. Kept for this tab, so a reload pairs again.
  if (location.hash.length > 1) {
    try {
      code = decodeURIComponent(location.hash.slice(1));
    } catch (err) {
      code = '';
    }
    sessionStorage.setItem('mnigs-tether-code', code);
    history.replaceState(null, '', location.pathname);
  }

  function connectLater(why) {
    show('laptop-state', why);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connectLaptop, retry);
    retry = Math.min(retry * 2, 30000);
  }

  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; }
    return (i ? n.toFixed(1) : n) + ' ' + units[i];
  }

  function tell(message) {
    if (laptop && laptop.readyState === WebSocket.OPEN) laptop.send(JSON.stringify(message));
  }

  function askCode(why) {
    show('laptop-state', why);
    $('code').value = code;
    $('pair').hidden = false;
  }

  function connectLaptop() {
    if (!/^[0-9]{8}$/.test(code)) return askCode('not paired: type the pairing code');
    const ws = new WebSocket('ws://' + location.host + '/tether',
                             ['mnigs-tether', 'mnigs-pair.' + code]);
    ws.binaryType = 'arraybuffer';
    laptop = ws;
    let opened = false;
    show('laptop-state', 'connecting');
    ws.onopen = () => {
      opened = true;
      pairedOnce = true;
      retry = 1000;
      $('pair').hidden = true;
      show('laptop-state', 'paired and connected');
    };
    ws.onmessage = (e) => {
      if (typeof e.data !== 'string') {
        if (gateway && gateway.readyState === WebSocket.OPEN &&
            gateway.bufferedAmount < maxBuffered) {
          gateway.send(e.data);
          counts.up += e.data.byteLength;
        } else {
          ++counts.dropped;
        }
        return;
      }
      let m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      control(m);
    };
    ws.onclose = (e) => {
      if (laptop !== ws) return;
      laptop = null;
      closeGateway();
      if (e.code === 4001) return askCode('another page took over the tether');
      if (!opened && !pairedOnce) {
        // A browser does not say why an upgrade failed: a wrong code, too
        // many wrong codes lately, or a laptop that cannot be reached.
        return askCode('could not pair: check the code, and that this phone reaches the ' +
                       'laptop (after many wrong codes, wait a minute)');
      }
      // Paired before with this code: the Wi-Fi or the laptop is away for a
      // while (or the code was renewed: type the new one).
      if (!opened) $('pair').hidden = false;
      connectLater(opened ? 'lost (' + (e.reason || e.code) + '); connecting again'
                          : 'cannot reach the laptop; trying again');
    };
  }

  function control(m) {
    switch (m.type) {
      case 'hello': {
        if (m.gateway) {
          $('ask-gateway').hidden = true;
          return;
        }
        const known = localStorage.getItem('mnigs-gateway');
        if (known) return tell({ type: 'gateway', address: known });
        $('ask-gateway').hidden = false;
        return;
      }
      case 'call':
        fetch(m.url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(m.body),
          cache: 'no-store',
        })
          .then((r) => r.json())
          .then((response) => tell({ type: 'answer', id: m.id, response }))
          .catch((err) => tell({ type: 'answer', id: m.id, error: String(err) }));
        return;
      case 'open':
        return openGateway(m.url, m.protocols);
      case 'close':
        return closeGateway();
      case 'state':
        show('tether-state', m.state + (m.detail ? ': ' + m.detail : ''));
        if (m.state.startsWith('waiting for the gateway')) $('ask-gateway').hidden = false;
        if (m.session) {
          const addresses = [m.session.address4, m.session.address6].filter((a) => a);
          const expires = new Date(m.session.expires * 1000).toLocaleTimeString();
          show('session', m.session.gateway + ', ' + addresses.join(', ') + ', until ' +
               expires);
        }
        return;
      default:
    }
  }

  function openGateway(url, protocols) {
    closeGateway();
    const ws = new WebSocket(url, protocols);
    ws.binaryType = 'arraybuffer';
    gateway = ws;
    show('gateway-state', 'connecting');
    ws.onopen = () => {
      show('gateway-state', 'connected');
      tell({ type: 'link', open: true });
    };
    ws.onmessage = (e) => {
      if (typeof e.data === 'string') return;
      if (laptop && laptop.readyState === WebSocket.OPEN && laptop.bufferedAmount < maxBuffered) {
        laptop.send(e.data);
        counts.down += e.data.byteLength;
      } else {
        ++counts.dropped;
      }
    };
    ws.onclose = (e) => {
      if (gateway !== ws) return;
      gateway = null;
      const reason = e.reason || 'closed (' + e.code + ')';
      show('gateway-state', reason);
      tell({ type: 'link', open: false, reason });
    };
  }

  function closeGateway() {
    const ws = gateway;
    gateway = null;
    if (ws) ws.close();
    show('gateway-state', 'not connected');
  }

  $('pair').addEventListener('submit', (e) => {
    e.preventDefault();
    code = $('code').value.trim();
    sessionStorage.setItem('mnigs-tether-code', code);
    $('pair').hidden = true;
    clearTimeout(retryTimer);
    retry = 1000;
    if (!laptop) connectLaptop();
  });
  $('ask-gateway').addEventListener('submit', (e) => {
    e.preventDefault();
    const address = $('gateway').value.trim();
    localStorage.setItem('mnigs-gateway', address);
    $('ask-gateway').hidden = true;
    tell({ type: 'gateway', address });
  });

  function holdScreen() {
    // Only in a secure context (https or localhost): a page the laptop serves
    // over plain http does not get it.
    if (!('wakeLock' in navigator)) {
      $('nolock').hidden = false;
      return;
    }
    navigator.wakeLock.request('screen').then((l) => {
      wakeLock = l;
      // Released when the tab goes to the background; asked again on return.
      l.addEventListener('release', () => { wakeLock = null; });
    }).catch(() => {
      $('nolock').hidden = false;
    });
  }
  document.addEventListener('visibilitychange', () => {
    $('background').hidden = document.visibilityState !== 'hidden';
    if (document.visibilityState === 'visible' && !wakeLock) holdScreen();
  });

  setInterval(() => {
    const now = performance.now();
    const seconds = (now - last.at) / 1000;
    const rate = (n) => bytes(n / seconds) + '/s';
    show('up', bytes(counts.up) + ' (' + rate(counts.up - last.up) + ')');
    show('down', bytes(counts.down) + ' (' + rate(counts.down - last.down) + ')');
    show('dropped', String(counts.dropped));
    last = { up: counts.up, down: counts.down, at: now };
  }, 1000);

  holdScreen();
  connectLaptop();
})();
