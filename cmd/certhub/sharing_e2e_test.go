package main_test

import (
	"strings"
	"testing"
)

// TestSharingCLI manages consumers, purposes and agreements from the
// console and checks the hub enforces what the console set up.
func TestSharingCLI(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	env := []string{"CERTHUB_ADMIN_TOKEN=" + admin, "CERTHUB_DATABASE_URL=", "CERTHUB_S3_ENDPOINT="}
	p := start(t, env, "--data", data)
	issuer, _ := setup(t, p)
	id := p.must(201, "POST", "/api/v1/certificates", issuer, permit("JY1"))["id"].(string)
	p.stop()

	run := func(args ...string) string {
		t.Helper()
		out, code := certhubEnv(t, env, append(args, "--data", data, "--log-level", "warn")...)
		if code != 0 {
			t.Fatalf("certhub %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return strings.TrimSpace(out)
	}
	run("purposes", "add", "SX-CLI-1", "--name", "个体工商户设立登记")
	if out := run("purposes", "list"); !strings.Contains(out, "个体工商户设立登记") {
		t.Fatalf("purposes list: %s", out)
	}
	consumer := run("consumers", "add", "--name", "窗口受理系统", "--uscc", company)
	if !strings.HasPrefix(consumer, "csm_") {
		t.Fatalf("consumers add: %q", consumer)
	}
	if out, code := certhubEnv(t, env, "agreements", "request", "--consumer", consumer, "--grant", licence+"=permit_no,nope",
		"--purpose", "SX-CLI-1", "--from", "2026-01-01", "--until", "2099-12-31", "--data", data); code == 0 || !strings.Contains(out, "grants[0].fields[1]") {
		t.Fatalf("bad request: %d %s", code, out)
	}
	agr := run("agreements", "request", "--consumer", consumer, "--grant", licence+"=permit_no", "--purpose", "SX-CLI-1",
		"--from", "2026-01-01", "--until", "2099-12-31", "--rate", "100")
	if out := run("agreements", "approve", agr); !strings.Contains(out, "active") {
		t.Fatalf("approve: %s", out)
	}
	if out := run("agreements", "list"); !strings.Contains(out, agr) || !strings.Contains(out, "active") {
		t.Fatalf("list: %s", out)
	}
	key := run("consumers", "key", consumer)
	key = key[strings.LastIndex(key, "\n")+1:]

	p = start(t, env, "--data", data)
	hdr := []string{"X-Purpose", "SX-CLI-1", "X-Case-Id", "2026-CLI-1"}
	got := p.must(200, "GET", "/api/v1/certificates/"+id, key, nil, hdr...)
	if d := got["data"].(map[string]any); len(d) != 1 || d["permit_no"] != "JY1" || got["agreement"] != agr {
		t.Fatalf("read under the CLI's agreement: %v", got)
	}
	p.stop()
	if out := run("agreements", "withdraw", agr, "--reason", "停止共享"); !strings.Contains(out, "withdrawn") {
		t.Fatalf("withdraw: %s", out)
	}
	run("consumers", "revoke", consumer)
	p = start(t, env, "--data", data)
	p.must(401, "GET", "/api/v1/certificates/"+id, key, nil, hdr...)
}
