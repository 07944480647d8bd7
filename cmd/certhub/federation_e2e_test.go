package main_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/testenv"
)

// fedHub is one hub of the federation test: its settings and, once
// started, its process.
type fedHub struct {
	id, addr, url string
	env           []string
	args          []string
	// extra are serve's flags besides the address and the cadences.
	extra []string
	p     *proc
}

func (h *fedHub) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := append(args, h.args...)
	out, code := certhubEnv(t, h.env, cmd...)
	if code != 0 {
		t.Fatalf("certhub %s (hub %s): exit %d\n%s", strings.Join(args, " "), h.id, code, out)
	}
	return out
}

// start runs the hub's server on its own port (a restart keeps it).
func (h *fedHub) start(t *testing.T) {
	t.Helper()
	args := append([]string{"--addr", h.addr, "--federation-every", "1s", "--federation-push-every", "300ms"}, h.extra...)
	h.p = start(t, h.env, append(args, h.args...)...)
}

// fed is a running federation of three hubs.
type fed struct {
	prov, city, county *fedHub
	rootKey, dir       string
}

// newFederation makes three hubs, a province on PostgreSQL + S3 and a city
// and a county embedded, as separate processes on loopback: the province
// is the root and admits the city from its signed description by the CLI;
// the city admits the county by the API. extra are serve flags for all.
func newFederation(t *testing.T, extra ...string) *fed {
	t.Helper()
	return newFederationJoining(t, nil, extra...)
}

// newFederationJoining is newFederation with a county that runs on its
// own first: before is called with it started but not yet part of the
// federation, which it joins (federation init, while it runs) right
// after.
func newFederationJoining(t *testing.T, before func(county *fedHub), extra ...string) *fed {
	t.Helper()
	s3 := testenv.S3Server(t)
	f := &fed{dir: t.TempDir()}
	f.prov = &fedHub{id: "330000", addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), env: []string{"CERTHUB_ADMIN_TOKEN=" + admin,
		"CERTHUB_DATABASE_URL=" + testenv.PostgresURL(t), "CERTHUB_S3_ENDPOINT=" + s3.Endpoint, "CERTHUB_S3_ACCESS_KEY=" + s3.AccessKey,
		"CERTHUB_S3_SECRET_KEY=" + s3.SecretKey, "CERTHUB_S3_BUCKET=" + testenv.RandomName("fed-"),
		"CERTHUB_MASTER_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))}}
	f.city = &fedHub{id: "330100", addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), env: []string{"CERTHUB_ADMIN_TOKEN=" + admin}}
	f.county = &fedHub{id: "330102", addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), env: []string{"CERTHUB_ADMIN_TOKEN=" + admin}}
	prov, city, county := f.prov, f.city, f.county
	for _, h := range []*fedHub{prov, city, county} {
		h.url = "http://" + h.addr
		h.args = []string{"--data", t.TempDir()}
		h.extra = extra
		h.cli(t, "init")
	}
	f.rootKey = filepath.Join(f.dir, "root.json")
	prov.cli(t, "federation", "init", "--root", "--hub-id", "330000", "--name", "浙江省电子证照库", "--url", prov.url)
	prov.cli(t, "federation", "root-key", "--out", f.rootKey)
	city.cli(t, "federation", "init", "--hub-id", "330100", "--name", "杭州市电子证照库", "--url", city.url,
		"--parent", "330000", "--parent-url", prov.url, "--root-key", f.rootKey)
	joinCounty := func() {
		county.cli(t, "federation", "init", "--hub-id", "330102", "--name", "上城区电子证照库", "--url", county.url,
			"--parent", "330100", "--parent-url", city.url, "--root-key", f.rootKey)
	}
	if before == nil {
		joinCounty()
	}
	// The province admits the city from the file the city's operator sent.
	cityDesc := filepath.Join(f.dir, "city.jws")
	city.cli(t, "federation", "describe", "--out", cityDesc)
	if out := prov.cli(t, "federation", "admit", "--child", cityDesc); !strings.Contains(out, `"hub_id": "330100"`) {
		t.Fatalf("admit: %s", out)
	}
	for _, h := range []*fedHub{prov, city, county} {
		h.start(t)
	}
	if before != nil {
		before(county)
		joinCounty()
	}
	// The city admits the county by the API.
	countyDesc := filepath.Join(f.dir, "county-api.jws")
	county.cli(t, "federation", "describe", "--out", countyDesc)
	raw, err := os.ReadFile(countyDesc)
	if err != nil {
		t.Fatal(err)
	}
	desc := string(raw)
	city.p.must(401, "POST", "/api/v1/federation/children", "", map[string]string{"description": desc})
	if c := city.p.must(201, "POST", "/api/v1/federation/children", admin, map[string]string{"description": desc}); c["hub_id"] != "330102" {
		t.Fatalf("admitted %v", c)
	}
	return f
}

// TestFederationDirectory: within a few refreshes every hub of a new
// federation serves a directory that the root key alone verifies
// (certhub federation verify-directory), with each entry signed by the
// hub's parent. A county that takes on an authority of another region is
// refused by its parent, which keeps what it admitted; a tampered and an
// expired directory are refused with their reasons; a parent does not
// admit another hub's child.
func TestFederationDirectory(t *testing.T) {
	t.Parallel()
	f := newFederation(t)
	prov, city, county, rootKey, dir := f.prov, f.city, f.county, f.rootKey, f.dir
	// A county description is refused by the province: it is the city's.
	countyDesc := filepath.Join(dir, "county.jws")
	county.cli(t, "federation", "describe", "--out", countyDesc)
	if out, code := certhubEnv(t, prov.env, append([]string{"federation", "admit", "--child", countyDesc}, prov.args...)...); code == 0 ||
		!strings.Contains(out, "not_parent") {
		t.Fatalf("the province admits the city's county: exit %d: %s", code, out)
	}

	// Every hub's directory, fetched over HTTP, verifies with the root key
	// alone and holds the three hubs, each signed by its parent.
	for _, h := range []*fedHub{prov, city, county} {
		waitFor(t, 60*time.Second, "the directory of "+h.id+" holds 3 hubs", func() (bool, string) {
			out, code := certhubEnv(t, nil, "federation", "verify-directory", h.url, "--root-key", rootKey)
			return code == 0 && strings.Contains(out, ": 3 hubs") &&
				strings.Contains(out, "330102 上城区电子证照库 "+county.url+" parent=330100 signer=330100") &&
				strings.Contains(out, "330100 杭州市电子证照库 "+city.url+" parent=330000 signer=330000") &&
				strings.Contains(out, "330000 浙江省电子证照库 "+prov.url+" parent=- signer=330000"), out
		})
	}
	// A tampered directory and one past its exp are refused, with why.
	got := county.p.do("GET", "/.well-known/certhub-directory", "", nil)
	if got.status != 200 || got.header.Get("Content-Type") != "application/jwt" || got.header.Get("ETag") == "" {
		t.Fatalf("GET the directory: %d %v", got.status, got.header)
	}
	parts := strings.Split(string(got.body), ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(raw), `"iss":"330102"`, `"iss":"330100"`, 1)
	tampered := filepath.Join(dir, "tampered.jws")
	if err := os.WriteFile(tampered, []byte(parts[0]+"."+base64.RawURLEncoding.EncodeToString([]byte(forged))+"."+parts[2]), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := certhubEnv(t, nil, "federation", "verify-directory", tampered, "--root-key", rootKey); code != 1 || !strings.Contains(out, "bad_signature") {
		t.Fatalf("a tampered directory: exit %d: %s", code, out)
	}
	later := time.Now().Add(11 * time.Minute).UTC().Format(time.RFC3339)
	if out, code := certhubEnv(t, nil, "federation", "verify-directory", county.url, "--root-key", rootKey, "--now", later); code != 1 ||
		!strings.Contains(out, "expired_directory") {
		t.Fatalf("an expired directory: exit %d: %s", code, out)
	}

	// The county takes on an authority registered in the city's region: it
	// cannot describe itself any more, its parent says why and keeps the
	// entry it admitted (no authority of another region gets in).
	county.p.must(201, "POST", "/api/v1/authorities", admin, map[string]string{"code": market, "name": "杭州市市场监督管理局", "algorithm": "ES256"})
	if a := county.p.do("GET", "/.well-known/certhub-hub", "", nil); a.status != 400 || !strings.Contains(string(a.body), "outside_region") {
		t.Fatalf("the county's description with another region's authority: %d %s", a.status, a.body)
	}
	waitFor(t, 30*time.Second, "the city reports the county's refusal", func() (bool, string) {
		a := city.p.do("GET", "/api/v1/federation", admin, nil)
		return a.status == 200 && strings.Contains(string(a.body), `"330102 description":"remote_hub 330102: GET`), string(a.body)
	})
	st := city.p.must(200, "GET", "/api/v1/federation", admin, nil)
	for _, h := range st["hubs"].([]any) {
		if e := h.(map[string]any); e["hub_id"] == "330102" && len(e["authorities"].([]any)) != 0 {
			t.Fatalf("the city's entry for the county took the authority: %v", e)
		}
	}
	if st["self"].(map[string]any)["parent"] != "330000" || len(st["children"].([]any)) != 1 {
		t.Fatalf("the city's federation status: %v", st)
	}
	city.p.must(403, "GET", "/api/v1/federation", clerkToken(t, city.p), nil)

	// The city's ledger holds the admission and the refusal, and verifies.
	city.p.stop()
	city.cli(t, "audit", "verify")
	bundle := filepath.Join(dir, "city-ledger.jsonl")
	city.cli(t, "audit", "export", "--out", bundle)
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"action":"federation_admit"`, `ok: hub 330102 (上城区电子证照库)`, `"action":"federation_refused"`, `outside_region (hub 330102)`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the city's ledger lacks %s:\n%s", want, b)
		}
	}
}

// clerkToken makes a window clerk's token: a role that may not see the
// federation's state.
func clerkToken(t *testing.T, p *proc) string {
	t.Helper()
	return p.must(201, "POST", "/api/v1/tokens", admin, map[string]string{"name": "审批系统", "role": "clerk"})["token"].(string)
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last: %s", what, within, last)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
