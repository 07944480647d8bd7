// The clerk page's offline verification (docs/offline-verify.md): keeps the
// signed trust list and status lists in Cache Storage, refreshes them in the
// background while online, reads a compact QR from an image (jsQR, served by
// the hub), the camera (scan.js) or typed text (a USB scanner types it), and
// verifies it here with cqr.js. The scanned content never leaves the page.
(function () {
  "use strict";
  var box = document.getElementById("offline-config");
  if (!box || !self.CertHubQR) { return; }
  var cfg = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(box.dataset.config), function (c) { return c.charCodeAt(0); })));
  var Q = self.CertHubQR;
  var LISTS = "certhub-lists-v1";
  var REFRESH_MS = 5 * 60 * 1000;
  var $ = function (id) { return document.getElementById(id); };
  var lists = { trustList: null, statusLists: {}, foreign: [] };
  var catalogue = null;
  var hub = null;
  var MAX_LISTS = 64; // status lists are numbered from 1; each holds ≥ 131,072 entries
  var KNOWN = "certhub-status-lists"; // localStorage: how many lists the last refresh found

  function msg(key) {
    var m = cfg.messages[key];
    if (!m) { return key; }
    return cfg.lang === "en" ? m[1] : m[0];
  }
  function other(key) {
    var m = cfg.messages[key];
    if (!m) { return ""; }
    return cfg.lang === "en" ? m[0] : m[1];
  }
  function nowSeconds() { return Math.floor(Date.now() / 1000); }
  function when(sec) {
    var d = new Date(sec * 1000);
    return d.toLocaleString(cfg.lang === "en" ? "en-GB" : "zh-CN", { hour12: false });
  }

  // --- the lists ---
  async function hubKey() {
    if (!hub) { hub = await Promise.all((cfg.hubKeys || [cfg.hubKey]).map(Q.importJWK)); }
    return hub;
  }

  // loadCached reads and verifies what Cache Storage holds; no request.
  async function loadCached() {
    var cache = await caches.open(LISTS);
    var next = { trustList: null, statusLists: {}, foreign: [], errors: [] };
    var k = await hubKey();
    var tl = await cache.match(cfg.trustList);
    if (tl) {
      try { next.trustList = await Q.loadTrustList(await tl.text(), k); } catch (e) { next.errors.push(e.reason || "bad_trust_list"); }
    }
    // The other hubs of the federation: their trust lists, vouched for by
    // this hub's signature, and their status lists as this hub passed them
    // on (/status/federation/<hub>/tsl/<n>), each checked with its hub's keys.
    var byHub = {};
    var ft = await cache.match(cfg.federationTrustList);
    if (ft) {
      try {
        var fed = await Q.loadFederation(await ft.text(), k);
        next.foreign = fed.hubs;
        fed.hubs.forEach(function (h) { byHub[h.id] = h; });
        next.errors = next.errors.concat(fed.errors);
      } catch (e) { next.errors.push(e.reason || "bad_trust_list"); }
    }
    var reqs = await cache.keys();
    for (var i = 0; i < reqs.length; i++) {
      var path = new URL(reqs[i].url).pathname;
      // Kept by the path the list has at its own hub, as its codes name it.
      var m = /^\/status\/federation\/([0-9]+)\/tsl\/([0-9]+)$/.exec(path);
      if (m) {
        if (!byHub[m[1]]) { continue; }
        try {
          byHub[m[1]].statusLists["/status/tsl/" + m[2]] = await Q.loadStatusList(await (await cache.match(reqs[i])).text(), byHub[m[1]].keys);
        } catch (e) { next.errors.push(m[1] + ": " + (e.reason || "bad_status_list")); }
        continue;
      }
      if (path.indexOf("/status/tsl/") !== 0) { continue; }
      try {
        next.statusLists[path] = await Q.loadStatusList(await (await cache.match(reqs[i])).text(), k);
      } catch (e) { next.errors.push(e.reason || "bad_status_list"); }
    }
    var cat = await cache.match(cfg.catalogue);
    if (cat) {
      try { catalogue = JSON.parse(await cat.text()); } catch (e) { catalogue = null; }
    }
    lists = next;
    showLists();
  }

  // keep fetches one list and keeps it if check accepts it.
  async function keep(cache, url, check) {
    var r = await fetch(url, { cache: "no-store", credentials: "same-origin" });
    if (r.status === 404) { return 404; }
    if (!r.ok) { return r.status; }
    var body = await r.text();
    await check(body);
    await cache.put(url, new Response(body, { headers: { "Content-Type": r.headers.get("Content-Type") || "application/octet-stream" } }));
    return 200;
  }

  // refresh fetches the lists while online, and keeps each only if it
  // verifies: a broken or forged answer never replaces a good cached list.
  var refreshing = null;
  function refresh() {
    if (!navigator.onLine || refreshing) { return refreshing; }
    refreshing = (async function () {
      var cache = await caches.open(LISTS);
      var k = await hubKey();
      var verified = function (load) { return function (body) { return load(body, k); }; };
      try { await keep(cache, cfg.trustList, verified(Q.loadTrustList)); } catch (e) { /* offline or bad: keep the cached one */ }
      try { await keep(cache, cfg.catalogue, function (body) { if (JSON.parse(body).profile !== "CH1") { throw new Error("not CH1"); } }); } catch (e) { /* optional */ }
      // Status lists: /status/tsl/1, 2, … until the hub says 404.
      for (var n = 1; n <= MAX_LISTS; n++) {
        var st;
        try { st = await keep(cache, cfg.statusList + n, verified(Q.loadStatusList)); } catch (e) { st = 0; }
        if (st === 404) { localStorage.setItem(KNOWN, String(n - 1)); break; }
        if (st !== 200) { break; } // offline or a bad answer: try again later
      }
      // The federation: the other hubs' trust lists, then each one's status
      // lists, passed on by this hub, kept only if they verify.
      var fed = null;
      try {
        await keep(cache, cfg.federationTrustList, async function (body) { fed = await Q.loadFederation(body, k); });
      } catch (e) { fed = null; }
      if (fed) {
        for (var h = 0; h < fed.hubs.length; h++) {
          var fh = fed.hubs[h];
          for (var j = 1; j <= MAX_LISTS; j++) {
            var fs;
            try {
              fs = await keep(cache, cfg.federationStatus + fh.id + "/tsl/" + j, function (body) { return Q.loadStatusList(body, fh.keys); });
            } catch (e) { fs = 0; }
            if (fs !== 200) { break; } // 404: no more lists; otherwise try again later
          }
        }
      }
      await loadCached();
    })().finally(function () { refreshing = null; });
    return refreshing;
  }

  function showLists() {
    var st = $("lists-state");
    var n = Object.keys(lists.statusLists).length;
    var want = n >= Number(localStorage.getItem(KNOWN) || "1");
    st.dataset.ready = String(!!lists.trustList && want);
    st.dataset.statusLists = String(n);
    st.dataset.hubs = String(lists.foreign.length);
    st.dataset.hubStatusLists = String(lists.foreign.reduce(function (a, h) { return a + Object.keys(h.statusLists).length; }, 0));
    st.textContent = lists.trustList
      ? msg("lists_cached").replace("{keys}", String(lists.trustList.keys.size)).replace("{lists}", String(n)).replace("{at}", when(lists.trustList.iat)) +
        (lists.foreign.length ? " " + msg("lists_hubs").replace("{hubs}", String(lists.foreign.length)) : "")
      : msg("lists_missing");
    showFreshness();
  }

  function showFreshness() {
    var f = Q.freshness(lists, nowSeconds());
    var b = $("stale-banner");
    b.dataset.state = f.state;
    if (f.state === "ok") { b.hidden = true; return; }
    b.hidden = false;
    b.className = "banner " + (f.state === "old" ? "warn" : "bad");
    b.textContent = msg("stale_" + f.state) + (f.oldest ? " " + msg("lists_from").replace("{at}", when(f.oldest)) : "") +
      " / " + other("stale_" + f.state);
  }

  // --- verifying ---
  function row(dl, label, value, cls) {
    var dt = document.createElement("dt"); dt.textContent = label;
    var dd = document.createElement("dd"); dd.textContent = value;
    if (cls) { dd.className = cls; }
    dl.appendChild(dt); dl.appendChild(dd);
  }

  function show(res, ms) {
    var sec = $("offline-result");
    sec.hidden = false;
    var v = $("offline-verdict");
    var key = res.valid ? "valid" : res.reason;
    v.className = "verdict " + (res.valid ? "ok" : "bad");
    v.dataset.reason = res.valid ? "valid" : res.reason;
    v.dataset.ms = ms.toFixed(2);
    v.textContent = "";
    var big = document.createElement("span"); big.className = "big";
    big.textContent = res.valid ? msg("valid") : msg("invalid");
    v.appendChild(big);
    var reason = document.createElement("span"); reason.className = "reason";
    var code = res.valid || other("q_" + key) === res.reason ? "" : " (" + res.reason + ")";
    reason.textContent = msg("q_" + key) + " · " + other("q_" + key) + code;
    v.appendChild(reason);
    var dl = $("offline-details");
    dl.textContent = "";
    var r = res.result;
    if (r && r.licence) {
      var l = r.licence;
      row(dl, msg("type"), l.typeName || l.typeCode || "");
      row(dl, msg("authority"), (r.key.entry.authority_name || "") + " " + (l.issuerUSCC || ""));
      if (res.hub) { row(dl, msg("q_hub"), res.hub.name + " (" + res.hub.id + ")"); }
      if (l.holder) { row(dl, msg("holder"), l.holder); }
      row(dl, msg("validity"), (l.validFrom || "") + " — " + (l.validUntil || msg("no_end")));
      l.fields.forEach(function (f) {
        var label = f.label && (f.label[cfg.lang === "en" ? "en" : "zh-CN"] || f.label["zh-CN"]);
        row(dl, label || f.name || msg("q_field").replace("{n}", String(f.number)), f.value);
      });
      row(dl, msg("identifier"), l.id, "mono");
      row(dl, msg("q_seal_key"), r.alg + " · " + r.kid, "mono");
    }
    if (!res.valid && res.detail) { row(dl, msg("q_detail"), res.detail, "mono"); }
    if (res.warning) { row(dl, msg("q_warning"), msg("q_" + res.warning) + " · " + other("q_" + res.warning)); }
    row(dl, msg("q_checked_in"), ms.toFixed(1) + " ms · " + msg("q_local"));
    showFreshness();
    sec.scrollIntoView({ block: "nearest" });
  }

  // verifyText checks one compact QR text here and shows the result. Any
  // other text (a share link, an identifier) goes to the online check, and
  // only when online.
  async function verifyText(text) {
    text = String(text || "").trim();
    if (text.slice(0, 4).toUpperCase() !== "CH1:") {
      if (navigator.onLine && text) {
        $("scan-text").value = text;
        $("scan-form").submit();
        return null;
      }
      var none = { valid: false, reason: text ? "needs_connection" : "bad_prefix", detail: "" };
      show(none, 0);
      return none;
    }
    var t0 = performance.now();
    var res = await Q.verify(text, lists, nowSeconds(), catalogue);
    var ms = performance.now() - t0;
    show(res, ms);
    return res;
  }

  async function readImage(file) {
    if (!self.jsQR) { show({ valid: false, reason: "decoder_missing", detail: "" }, 0); return null; }
    var bmp;
    try { bmp = await createImageBitmap(file); } catch (e) {
      show({ valid: false, reason: "not_an_image", detail: String(e && e.message || e) }, 0);
      return null;
    }
    var scale = Math.min(1, 1600 / Math.max(bmp.width, bmp.height));
    var c = document.createElement("canvas");
    c.width = Math.round(bmp.width * scale); c.height = Math.round(bmp.height * scale);
    var g = c.getContext("2d", { willReadFrequently: true });
    g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height);
    g.drawImage(bmp, 0, 0, c.width, c.height);
    var code = self.jsQR(g.getImageData(0, 0, c.width, c.height).data, c.width, c.height);
    if (!code) { show({ valid: false, reason: "no_qr", detail: "" }, 0); return null; }
    return verifyText(code.data);
  }

  $("qr-image").addEventListener("change", function (e) {
    var f = e.target.files && e.target.files[0];
    if (f) { readImage(f); }
  });
  $("qr-text-check").addEventListener("click", function () { verifyText($("qr-text").value); });
  $("qr-text").addEventListener("keydown", function (e) {
    // A scanner gun ends its text with Enter.
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); verifyText($("qr-text").value); }
  });

  self.CertHubOffline = {
    verifyText: verifyText, refresh: refresh, reload: loadCached, freshness: showFreshness,
    lists: function () { return lists; }, catalogue: function () { return catalogue; }
  };

  // --- the service worker and the refresh schedule ---
  // The worker and the refresh wait for the page to finish loading, so
  // they never compete with it.
  function start() {
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register(cfg.worker, { scope: cfg.scope }).catch(function () {});
    }
    refresh();
  }
  loadCached().then(function () {
    if (document.readyState === "complete") { start(); } else { addEventListener("load", start); }
  });
  setInterval(refresh, REFRESH_MS);
  setInterval(showFreshness, 30 * 1000);
  // Back online: refresh after a second, once the connection has settled
  // (and not from a page that is being left).
  var leaving = false;
  addEventListener("pagehide", function () { leaving = true; });
  addEventListener("online", function () { setTimeout(function () { if (!leaving) { refresh(); } }, 1000); });
})();
