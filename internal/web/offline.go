package web

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"text/template"
)

// The browser QR decoder, vendored at build time by jsqrgen (go generate)
// into the git-ignored vendor directory; the committed .gitignore keeps the
// directory, so the hub builds without it and the page then verifies typed
// text only.
//
//go:generate go run ./jsqrgen
//go:embed all:vendor
var vendorFS embed.FS

// jsQR is the vendored decoder, or nil when it was not generated.
var jsQR, _ = fs.ReadFile(vendorFS, "vendor/jsQR.js")

// Offline app paths: all under /verify, the service worker's scope.
const (
	appScope     = "/verify"
	workerPath   = "/verify/sw.js"
	trustListURL = "/.well-known/certhub-trust-list"
	catalogueURL = "/.well-known/certhub-licence-types"
)

// shellAssets are what the service worker keeps so the page opens offline.
func shellAssets() []string {
	a := []string{"/static/app.css", "/static/cqr.js", "/static/offline.js", "/static/scan.js", "/verify/manifest.webmanifest", "/verify/icon.svg"}
	if jsQR != nil {
		a = append(a, "/verify/jsqr.js")
	}
	return a
}

// shellVersion changes whenever a shell asset does, so browsers install the
// new service worker and drop the old cache.
var shellVersion = func() string {
	h := sha256.New()
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := staticFS.ReadFile(p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	h.Write(jsQR)
	h.Write([]byte(workerJS))
	return hex.EncodeToString(h.Sum(nil)[:8])
}()

var workerTmpl = template.Must(template.New("sw").Parse(workerJS))

// serviceWorker serves the offline app's service worker. Its scope is
// /verify (Service-Worker-Allowed), which its path alone would not allow.
func (s *Server) serviceWorker(w http.ResponseWriter, r *http.Request) {
	assets, _ := json.Marshal(shellAssets())
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Service-Worker-Allowed", appScope)
	_ = workerTmpl.Execute(w, map[string]string{"Version": shellVersion, "Assets": string(assets), "Page": appScope})
}

// manifest is the web app manifest that makes /verify installable.
func (s *Server) manifest(w http.ResponseWriter, r *http.Request) {
	lang := langOf(r)
	w.Header().Set("Content-Type", "application/manifest+json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"name": T(lang, "app_name"), "short_name": T(lang, "verify"), "lang": T(lang, "lang"),
		"start_url": appScope, "scope": appScope, "display": "standalone",
		"background_color": "#f4f5f7", "theme_color": "#0b4f9c",
		"icons": []map[string]string{{"src": "/verify/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}},
	})
}

// appIcon is the installed app's icon: a seal-red ring with a check mark.
const appIcon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512"><rect width="512" height="512" rx="96" fill="#0b4f9c"/>` +
	`<circle cx="256" cy="256" r="168" fill="none" stroke="#fff" stroke-width="28"/>` +
	`<path d="M176 262l56 56 108-124" fill="none" stroke="#fff" stroke-width="40" stroke-linecap="round" stroke-linejoin="round"/></svg>`

func (s *Server) icon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "image/svg+xml")
	_, _ = w.Write([]byte(appIcon))
}

// jsqr serves the vendored decoder; 404 when the hub was built without it.
func (s *Server) jsqr(w http.ResponseWriter, r *http.Request) {
	if jsQR == nil {
		s.errorPage(w, r, http.StatusNotFound, "not_found", "")
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	_, _ = w.Write(jsQR)
}

// offlineMessages are the keys the offline verifier shows, each sent in
// both languages (the page shows the page's language and the other below).
var offlineMessages = []string{
	"valid", "invalid", "type", "authority", "holder", "validity", "no_end", "identifier",
	"lists_cached", "lists_hubs", "lists_missing", "lists_from", "stale_missing", "stale_old", "stale_expired",
	"q_valid", "q_bad_prefix", "q_bad_base45", "q_bad_zlib", "q_too_large", "q_bad_cbor", "q_unknown_key",
	"q_bad_algorithm", "q_bad_signature", "q_expired", "q_revoked", "q_suspended", "q_stale_lists",
	"q_bad_trust_list", "q_bad_status_list", "q_bad_status_index", "q_bad_status", "q_status_unavailable",
	"q_issuer_mismatch", "q_key_compromised", "q_needs_connection", "q_decoder_missing", "q_no_qr",
	"q_not_an_image", "q_error", "q_key_not_yet_valid", "q_key_retired", "q_not_yet_valid", "q_no_status", "q_warning", "q_field", "q_seal_key", "q_detail", "q_checked_in", "q_local", "q_hub",
}

// offlineConfig is what offline.js needs, as base64 JSON for a data attribute:
// the hub's public keys (which sign the trust list and the status lists),
// where the lists are, the words to show.
func (s *Server) offlineConfig(lang string) string {
	cfg := map[string]any{"lang": lang, "trustList": trustListURL, "statusList": "/status/tsl/", "catalogue": catalogueURL,
		"federationTrustList": "/.well-known/certhub-federation-trust-list", "federationStatus": "/status/federation/",
		"worker": workerPath, "scope": appScope}
	if s.HubKey != nil {
		// The active key, and every key the hub publishes: lists signed
		// before a rotation keep verifying until they are fetched again.
		cfg["hubKey"] = s.HubKey.PublicJWK()
		var keys []json.RawMessage
		for _, k := range s.HubKey.Published() {
			keys = append(keys, k.JWK)
		}
		cfg["hubKeys"] = keys
	}
	msgs := make(map[string][2]string, len(offlineMessages))
	for _, k := range offlineMessages {
		msgs[k] = [2]string{T("zh", k), T("en", k)}
	}
	cfg["messages"] = msgs
	b, _ := json.Marshal(cfg)
	// Base64, so the words of every possible verdict are not text of the
	// page's source: a search of the page for 伪造签名 finds only a verdict
	// actually shown.
	return base64.StdEncoding.EncodeToString(b)
}

// isApp reports whether a page is the offline app's (gets the manifest).
func isApp(name string) bool { return name == "verify" }

// workerJS is the service worker. The page and its scripts are kept in
// one cache per shell version; /verify is network-first (a fresh page and
// session when online) and falls back to the kept copy; the scripts are
// cache-first. The lists are not its business: offline.js keeps them in
// their own cache and reads them from there.
const workerJS = `// certhub offline clerk page, shell {{.Version}}
"use strict";
const SHELL = "certhub-verify-{{.Version}}";
const PAGE = "{{.Page}}";
const ASSETS = {{.Assets}};

self.addEventListener("install", (e) => {
  e.waitUntil((async () => {
    const c = await caches.open(SHELL);
    await c.addAll(ASSETS);
    const page = await fetch(PAGE, { credentials: "same-origin" });
    if (page.ok && !page.redirected) { await c.put(PAGE, page); }
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (e) => {
  e.waitUntil((async () => {
    for (const k of await caches.keys()) {
      if (k.startsWith("certhub-verify-") && k !== SHELL) { await caches.delete(k); }
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (e) => {
  const req = e.request;
  if (req.method !== "GET") { return; }
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) { return; }
  if (req.mode === "navigate" && url.pathname === PAGE) {
    e.respondWith(page(req, url));
  } else if (ASSETS.includes(url.pathname) && url.search === "") {
    e.respondWith(caches.match(url.pathname, { cacheName: SHELL }).then((r) => r || fetch(req)));
  }
});

async function page(req, url) {
  try {
    const res = await fetch(req);
    if (res.ok && !res.redirected && url.search === "") {
      const c = await caches.open(SHELL);
      await c.put(PAGE, res.clone());
    }
    return res;
  } catch (err) {
    const kept = await caches.match(PAGE, { cacheName: SHELL });
    return kept || Response.error();
  }
}
`
