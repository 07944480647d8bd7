package main_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/filestore"
	"github.com/certhub/certhub/internal/oidc/oidctest"
	"github.com/certhub/certhub/internal/postgres"
	"github.com/certhub/certhub/internal/s3store"
	"github.com/certhub/certhub/internal/sqlite"
	"github.com/certhub/certhub/internal/sqlstore"
	"github.com/certhub/certhub/internal/testenv"
	"github.com/certhub/certhub/signing"
)

// archiveObjects is the object store as the test reaches it, to read,
// replace and remove an archived month behind the hub's back.
type archiveObjects interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, data []byte) error
	Delete(ctx context.Context, key string) error
}

// archiveJourney: a ledger with entries in three past months and the
// current one is archived with `certhub audit archive`; the months leave
// the database (their partitions are dropped on PostgreSQL); `audit
// verify` still proves the chain across archive and live entries, and
// fails naming the month once its object is altered or removed; an
// archived month verifies offline (and by an independent Python check);
// `audit export` still starts at entry 1; a holder's access history lists
// the live entries and says before which month the rest are archived.
//
// openStore opens the hub's store in the test (to write entries dated in
// past months, which a running hub never does).
func archiveJourney(t *testing.T, env, args []string, db *sql.DB, objects archiveObjects, openStore func(context.Context) (*sqlstore.Store, error), partitioned bool) {
	ctx := context.Background()
	master := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	idp := oidctest.New(t)
	env = append(env, "CERTHUB_MASTER_KEY="+master, "CERTHUB_HOLDER_OIDC_ISSUER="+idp.Issuer(), "CERTHUB_HOLDER_OIDC_AUDIENCE="+idp.Audience)
	run := func(cmd ...string) (string, int) {
		t.Helper()
		return certhubEnv(t, env, append(cmd, args...)...)
	}
	if out, code := run("init"); code != 0 {
		t.Fatalf("init: %d %s", code, out)
	}

	// Entries in three past months, before the hub's own (the ledger is
	// in seq order; a month is a run of entries).
	mk, err := signing.ParseMasterKey(master)
	if err != nil {
		t.Fatal(err)
	}
	holder := signing.NewVault(mk).Index("organisation", company)
	now := time.Now().UTC()
	this := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	months := []time.Time{this.AddDate(0, -4, 0), this.AddDate(0, -3, 0), this.AddDate(0, -2, 0)}
	s, err := openStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var old []exchange.AuditEntry
	for _, m := range months {
		must(t, s.EnsureAuditPartitions(ctx, m)) // as a hub running then would have
		for d := 1; d <= 3; d++ {
			at := m.AddDate(0, 0, d*5)
			old = append(old, exchange.AuditEntry{At: at, Day: at.Format("2006-01-02"), Actor: "consumer:tok_old", ActorName: "受理平台",
				Action: "lookup", Certificates: []string{"1.2.156.3005.2.x"}, Holder: holder, Purpose: "SX-FOOD-NEW", CaseID: "2026-OLD", Outcome: "ok"})
		}
	}
	must(t, s.AppendAudit(ctx, old)) // entries 1-9
	s.Close()

	p := start(t, env, args...)
	issuer, consumer := setup(t, p)
	p.must(201, "POST", "/api/v1/certificates", issuer, permit("AR1"))
	for i := 0; i < 2; i++ {
		p.must(200, "GET", "/api/v1/certificates?holder_id="+company, consumer, nil, purpose...)
	}
	key := strings.TrimSpace(string(p.do("GET", "/.well-known/ledger-key", "", nil).body))
	p.stop()

	// Only closed months.
	next := this.AddDate(0, 1, 0).Format("2006-01")
	if out, code := run("audit", "archive", "--before", next); code == 0 || !strings.Contains(out, "--before "+next) || !strings.Contains(out, "closed months") {
		t.Fatalf("archive of the current month: exit %d %s", code, out)
	}
	if out, code := run("audit", "archive", "--before", "2026-1"); code == 0 || !strings.Contains(out, "--before") {
		t.Fatalf("archive --before 2026-1: exit %d %s", code, out)
	}
	before := this.AddDate(0, -1, 0).Format("2006-01")
	out, code := run("audit", "archive", "--before", before)
	if code != 0 {
		t.Fatalf("archive: %d %s", code, out)
	}
	for _, m := range months {
		if !strings.Contains(out, "archived "+m.Format("2006-01")) {
			t.Fatalf("archive did not archive %s: %s", m.Format("2006-01"), out)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit_log WHERE seq <= 9`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("archived entries left in the database: %d %v", n, err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM audit_archives`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("archived months recorded: %d %v", n, err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM audit_log WHERE body LIKE '%"action":"audit_archive"%'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the archive run's ledger entry: %d %v", n, err)
	}
	if partitioned {
		var left int
		if err := db.QueryRow(`SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'audit_log'::regclass AND c.relname = ANY($1)`,
			[]string{partition(months[0]), partition(months[1]), partition(months[2])}).Scan(&left); err != nil || left != 0 {
			t.Fatalf("partitions of archived months left: %d %v", left, err)
		}
		var live bool
		if err := db.QueryRow(`SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL`, partition(this), partition(this.AddDate(0, 1, 0))).Scan(&live); err != nil || !live {
			t.Fatalf("serve did not make this and next month's partitions: %v %v", live, err)
		}
	}
	if out, code := run("audit", "archive", "--before", before); code != 0 || !strings.Contains(out, "0 months archived") {
		t.Fatalf("archive again: %d %s", code, out)
	}
	if out, code := run("audit", "verify"); code != 0 || !strings.Contains(out, "ledger intact") {
		t.Fatalf("verify across archive and live: %d %s", code, out)
	}

	// An archived month on its own, offline; and by an independent check.
	mid := months[1].Format("2006-01")
	orig, err := objects.Get(ctx, exchange.ArchiveKey(mid))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), mid+".jsonl")
	_ = os.WriteFile(file, orig, 0o600)
	if out, code := certhub(t, "audit", "verify", "--bundle", file, "--key", key); code != 0 || !strings.Contains(out, "ledger intact: 3 entries") {
		t.Fatalf("archived month offline: %d %s", code, out)
	}
	pythonCheck(t, file, key)
	// The export still starts at entry 1, read back from the archive.
	export := filepath.Join(t.TempDir(), "export.jsonl")
	if out, code := run("audit", "export", "-o", export); code != 0 {
		t.Fatalf("export: %d %s", code, out)
	}
	if out, code := certhub(t, "audit", "verify", "--bundle", export, "--key", key); code != 0 || !strings.Contains(out, "ledger intact") {
		t.Fatalf("export across the archive: %d %s", code, out)
	}

	// A holder's history: live entries, and where older ones are.
	p = start(t, env, args...)
	var acc struct {
		Accesses []exchange.AuditEntry `json:"accesses"`
		Archived string                `json:"archived_before"`
	}
	a := p.do("GET", "/api/v1/me/accesses", idp.Mint(idp.Claims(company, "福建某某餐饮有限公司")), nil)
	p.stop()
	if a.status != 200 {
		t.Fatalf("my accesses: %d %s", a.status, a.body)
	}
	if err := json.Unmarshal(a.body, &acc); err != nil {
		t.Fatal(err)
	}
	if acc.Archived != months[2].AddDate(0, 1, 0).Format("2006-01") || len(acc.Accesses) == 0 {
		t.Fatalf("my accesses: archived_before %q, %d entries", acc.Archived, len(acc.Accesses))
	}
	for _, e := range acc.Accesses {
		if e.Seq <= 9 {
			t.Fatalf("an archived entry is listed as live: %+v", e)
		}
	}

	// Altered, then missing: verify names the month.
	expect := func(what string, want ...string) {
		t.Helper()
		out, code := run("audit", "verify")
		for _, w := range append(want, "NOT intact", mid) {
			if code == 0 || !strings.Contains(out, w) {
				t.Fatalf("%s: exit %d, output %q; want a failure saying %q", what, code, out, w)
			}
		}
	}
	must(t, objects.Delete(ctx, exchange.ArchiveKey(mid)))
	must(t, objects.Put(ctx, exchange.ArchiveKey(mid), bytes.Replace(orig, []byte("2026-OLD"), []byte("2026-NEW"), 1)))
	expect("altered archive", "SHA-256")
	must(t, objects.Delete(ctx, exchange.ArchiveKey(mid)))
	expect("missing archive", "missing")
	must(t, objects.Put(ctx, exchange.ArchiveKey(mid), orig))
	if out, code := run("audit", "verify"); code != 0 {
		t.Fatalf("verify with the archive restored: %d %s", code, out)
	}
}

func partition(m time.Time) string { return "audit_log_y" + m.Format("2006") + "m" + m.Format("01") }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// pythonCheck recomputes an archived month's chain and checks its last
// checkpoint's Ed25519 signature with Python (not our code): the entries
// chain from the archive line's prev hash, and the checkpoint at the last
// entry names that entry's hash.
func pythonCheck(t *testing.T, bundle, key string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Log("python3 absent: independent check skipped")
		return
	}
	const script = `
import base64, hashlib, json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
name, khash, kdata = sys.argv[2].split("+")
raw = base64.b64decode(kdata)
assert raw[0] == 1, "not an Ed25519 note key"
pub = Ed25519PublicKey.from_public_bytes(raw[1:])
arch, cps, entries = None, [], []
for line in open(sys.argv[1], encoding="utf-8"):
    l = json.loads(line)
    if l["kind"] == "archive": arch = l
    elif l["kind"] == "checkpoint": cps.append(l["checkpoint"])
    elif l["kind"] == "entry": entries.append(l)
prev = bytes.fromhex(arch["prev"])
seq = arch["first"]
for e in entries:
    assert e["seq"] == seq, ("seq", e["seq"], seq)
    body = json.dumps(e["body"], separators=(",", ":"), ensure_ascii=False).encode()
    h = hashlib.sha256(prev + body).digest()
    assert h.hex() == e["hash"], ("hash", seq)
    prev, seq = h, seq + 1
assert seq - 1 == arch["last"]
ok = False
for c in cps:
    text, sigs = c.split("\n\n", 1)
    lines = text.split("\n")
    if int(lines[1]) != arch["last"]: continue
    assert base64.b64decode(lines[2]) == prev, "checkpoint root"
    for s in sigs.strip().split("\n"):
        _, sname, sig = s.split(" ")
        sig = base64.b64decode(sig)
        if sname == name and sig[:4].hex() == khash:
            pub.verify(sig[4:], (text + "\n").encode())
            ok = True
assert ok, "no checkpoint signed by the ledger key at the last entry"
print("python: chain and checkpoint ok")
`
	out, err := exec.Command(py, "-c", script, bundle, key).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "chain and checkpoint ok") {
		t.Fatalf("independent check of the archived month: %v\n%s", err, out)
	}
}

func TestAuditArchivePostgresMinIO(t *testing.T) {
	t.Parallel()
	env, args, db := postgresStore(t)
	s3 := testenv.S3Server(t)
	bucket := testenv.RandomName("archive-")
	env = append(env, "CERTHUB_S3_ENDPOINT="+s3.Endpoint, "CERTHUB_S3_ACCESS_KEY="+s3.AccessKey, "CERTHUB_S3_SECRET_KEY="+s3.SecretKey, "CERTHUB_S3_BUCKET="+bucket)
	objects, err := s3store.Open(context.Background(), s3store.Config{Endpoint: s3.Endpoint, Bucket: bucket, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	url := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "CERTHUB_DATABASE_URL="); ok && v != "" {
			url = v
		}
	}
	archiveJourney(t, env, args, db, objects, func(ctx context.Context) (*sqlstore.Store, error) { return postgres.Open(ctx, url) }, true)
}

func TestAuditArchiveSQLite(t *testing.T) {
	t.Parallel()
	env, args, db := embeddedStore(t)
	data := args[1]
	objects, err := filestore.Open(filepath.Join(data, "documents"))
	if err != nil {
		t.Fatal(err)
	}
	archiveJourney(t, env, args, db, objects, func(ctx context.Context) (*sqlstore.Store, error) {
		return sqlite.Open(ctx, filepath.Join(data, "certhub.db"))
	}, false)
}
