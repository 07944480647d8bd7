package main_test

import (
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/mod/sumdb/note"
	_ "modernc.org/sqlite"
)

// ledgerJourney makes audited traffic on a hub, then checks that `certhub
// audit verify` accepts the untouched ledger, names the first bad entry
// after rows are altered, removed or swapped, or an entry's holder column
// cleared, directly in the database, and that an exported bundle verifies
// offline.
//
// freeHolder are the statements that make audit_log.holder a plain,
// writable column again on that database, as someone who may change the
// schema could.
func ledgerJourney(t *testing.T, env []string, store []string, db *sql.DB, freeHolder ...string) {
	p := start(t, env, store...)
	issuer, consumer := setup(t, p)
	for _, no := range []string{"JY1", "JY2", "JY3"} {
		p.must(201, "POST", "/api/v1/certificates", issuer, permit(no))
	}
	for i := 0; i < 4; i++ {
		p.must(200, "GET", "/api/v1/certificates?holder_id="+company, consumer, nil, purpose...)
	}
	key := string(p.do("GET", "/.well-known/ledger-key", "", nil).body)
	p.stop()

	run := func(args ...string) (string, int) {
		cmd := append(append([]string{}, args...), store...)
		out, code := certhubEnv(t, env, cmd...)
		return out, code
	}
	if out, code := run("audit", "checkpoint"); code != 0 || !strings.Contains(out, "certhub/ledger") {
		t.Fatalf("checkpoint: %d %s", code, out)
	}
	if out, code := run("audit", "verify"); code != 0 || !strings.Contains(out, "ledger intact") {
		t.Fatalf("verify untouched: %d %s", code, out)
	}
	bundle := filepath.Join(t.TempDir(), "ledger.jsonl")
	if out, code := run("audit", "export", "-o", bundle); code != 0 {
		t.Fatalf("export: %d %s", code, out)
	}
	if out, code := certhub(t, "audit", "verify", "--bundle", bundle, "--key", strings.TrimSpace(key)); code != 0 {
		t.Fatalf("bundle: %d %s", code, out)
	}

	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	// The entry to tamper with: the first lookup, followed by another.
	var n int
	if err := db.QueryRow(`SELECT min(seq) FROM audit_log WHERE body LIKE '%"action":"lookup"%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	first := fmt.Sprintf("first bad entry %d", n)
	var body, hash string
	var at any // the entry's time column (migration 0029), as the driver reads it
	if err := db.QueryRow(`SELECT body, hash, at FROM audit_log WHERE seq = $1`, n).Scan(&body, &hash, &at); err != nil {
		t.Fatal(err)
	}
	expect := func(what, want string) {
		t.Helper()
		out, code := run("audit", "verify")
		if code == 0 || !strings.Contains(out, want) {
			t.Fatalf("%s: exit %d, output %q; want a failure naming %q", what, code, out, want)
		}
	}
	exec(`UPDATE audit_log SET body = replace(body, '"lookup"', '"nothing"') WHERE seq = $1`, n)
	expect("altered", first)
	exec(`UPDATE audit_log SET body = $1 WHERE seq = $2`, body, n)
	exec(`DELETE FROM audit_log WHERE seq = $1`, n)
	expect("removed", first)
	exec(`INSERT INTO audit_log (seq, body, hash, at) VALUES ($1, $2, $3, $4)`, n, body, hash, at)
	var b2, h2 string
	if err := db.QueryRow(`SELECT body, hash FROM audit_log WHERE seq = $1`, n+1).Scan(&b2, &h2); err != nil {
		t.Fatal(err)
	}
	exec(`UPDATE audit_log SET body = $1, hash = $2 WHERE seq = $3`, b2, h2, n)
	exec(`UPDATE audit_log SET body = $1, hash = $2 WHERE seq = $3`, body, hash, n+1)
	expect("reordered", first)
	exec(`UPDATE audit_log SET body = $1, hash = $2 WHERE seq = $3`, body, hash, n)
	exec(`UPDATE audit_log SET body = $1, hash = $2 WHERE seq = $3`, b2, h2, n+1)
	if out, code := run("audit", "verify"); code != 0 {
		t.Fatalf("verify restored: %d %s", code, out)
	}

	// The holder column, by which a holder is shown who used their
	// certificates, is derived from the hashed entry: the database refuses
	// to clear it, and once its definition is changed so that it can, the
	// cleared entry is the first bad one.
	var holder sql.NullString
	if err := db.QueryRow(`SELECT holder FROM audit_log WHERE seq = $1`, n).Scan(&holder); err != nil || !holder.Valid {
		t.Fatalf("the lookup's holder column: %v %v", holder, err)
	}
	if _, err := db.Exec(`UPDATE audit_log SET holder = NULL WHERE seq = $1`, n); err == nil {
		t.Fatal("the database let the holder column be cleared")
	}
	for _, q := range freeHolder {
		exec(q)
	}
	exec(`UPDATE audit_log SET holder = NULL WHERE seq = $1`, n)
	expect("holder cleared", first)
	if out, _ := run("audit", "verify"); !strings.Contains(out, "holder") {
		t.Fatalf("verify does not say the holder column was altered: %s", out)
	}

	// The bundle exported before the tampering still verifies; a copy
	// edited by hand does not.
	if out, code := certhub(t, "audit", "verify", "--bundle", bundle); code != 0 {
		t.Fatalf("bundle after the store was tampered: %d %s", code, out)
	}
	raw, _ := os.ReadFile(bundle)
	forged := strings.Replace(string(raw), `"purpose":"SX-FOOD-NEW"`, `"purpose":"别的用途"`, 1)
	if forged == string(raw) {
		t.Fatal("test bundle has no purpose to forge")
	}
	_ = os.WriteFile(bundle, []byte(forged), 0o644)
	if out, code := certhub(t, "audit", "verify", "--bundle", bundle); code == 0 || !strings.Contains(out, "NOT intact") {
		t.Fatalf("forged bundle: %d %s", code, out)
	}

	// A bundle whose checkpoints another key signed: the report names the
	// first, its size and time, the ledger key and why.
	place, lines := 0, strings.Split(strings.TrimSpace(string(raw)), "\n")
	var size string
	for i, line := range lines {
		var l struct {
			Kind, Checkpoint string
			At               string `json:"at"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.Kind != "checkpoint" {
			continue
		}
		place++
		text, _, _ := strings.Cut(l.Checkpoint, "\n\n")
		if place == 1 {
			size = strings.Split(text, "\n")[1]
		}
		forged, err := note.Sign(&note.Note{Text: text + "\n"}, otherLedgerKey(t, "certhub/ledger"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(map[string]string{"kind": "checkpoint", "checkpoint": string(forged), "at": l.At})
		lines[i] = string(b)
		if l.At == "" {
			t.Fatal("the bundle's checkpoint says not when it was signed")
		}
	}
	if place == 0 {
		t.Fatal("the bundle has no checkpoint")
	}
	_ = os.WriteFile(bundle, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	out, code := certhub(t, "audit", "verify", "--bundle", bundle, "--key", strings.TrimSpace(key))
	keyID := strings.Join(strings.Split(strings.TrimSpace(key), "+")[:2], "+")
	for _, want := range []string{fmt.Sprintf("checkpoint 1 (size %s, signed 20", size), "signature is not by the ledger key " + keyID, "signed by another key"} {
		if code == 0 || !strings.Contains(out, want) {
			t.Fatalf("bundle with a checkpoint by another key: exit %d, output %q; want it to say %q", code, out, want)
		}
	}
	if strings.Contains(out, "first bad entry") {
		t.Fatalf("a bad checkpoint is reported as a bad entry: %s", out)
	}
}

// otherLedgerKey is a note signer for name that is not the hub's.
func otherLedgerKey(t *testing.T, name string) note.Signer {
	t.Helper()
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// certhubEnv runs the binary with extra environment.
func certhubEnv(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

func TestAuditLedgerSQLite(t *testing.T) {
	t.Parallel()
	env, args, db := embeddedStore(t)
	ledgerJourney(t, env, args, db,
		`CREATE TABLE audit_log_free (seq integer PRIMARY KEY, body text NOT NULL, hash text NOT NULL, holder text)`,
		`INSERT INTO audit_log_free SELECT seq, body, hash, holder FROM audit_log`,
		`DROP TABLE audit_log`, `ALTER TABLE audit_log_free RENAME TO audit_log`)
}

func TestAuditLedgerPostgres(t *testing.T) {
	t.Parallel()
	env, args, db := postgresStore(t)
	ledgerJourney(t, env, args, db, `ALTER TABLE audit_log ALTER COLUMN holder DROP EXPRESSION`)
}

// checkpointOnShutdown: a hub stopped with SIGTERM signs a checkpoint that
// covers its last entry, although its timer never fired.
func checkpointOnShutdown(t *testing.T, env []string, store []string, db *sql.DB) {
	p := start(t, append(env, "CERTHUB_CHECKPOINT_EVERY=1h"), store...)
	issuer, consumer := setup(t, p)
	p.must(201, "POST", "/api/v1/certificates", issuer, permit("SD1"))
	for i := 0; i < 3; i++ {
		p.must(200, "GET", "/api/v1/certificates?holder_id="+company, consumer, nil, purpose...)
	}
	var head int64
	if err := db.QueryRow(`SELECT seq FROM audit_head`).Scan(&head); err != nil || head < 4 {
		t.Fatalf("ledger head before shutdown: %d %v", head, err)
	}
	var before int
	if err := db.QueryRow(`SELECT count(*) FROM audit_checkpoints`).Scan(&before); err != nil || before != 0 {
		t.Fatalf("checkpoints before shutdown: %d %v (the timer should not have fired)", before, err)
	}
	p.stop()
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM:\n%s", code, p.log())
	}
	var size sql.NullInt64
	if err := db.QueryRow(`SELECT max(size) FROM audit_checkpoints`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT seq FROM audit_head`).Scan(&head); err != nil {
		t.Fatal(err)
	}
	if !size.Valid || size.Int64 != head {
		t.Fatalf("after SIGTERM the last checkpoint covers %v entries, the ledger has %d\n%s", size, head, p.log())
	}
	out, code := certhubEnv(t, env, append([]string{"audit", "verify"}, store...)...)
	if code != 0 || !strings.Contains(out, "against 1 signed checkpoints") {
		t.Fatalf("verify after shutdown: %d %s", code, out)
	}
}

func TestCheckpointOnShutdownSQLite(t *testing.T) {
	t.Parallel()
	env, args, db := embeddedStore(t)
	checkpointOnShutdown(t, env, args, db)
}

func TestCheckpointOnShutdownPostgres(t *testing.T) {
	t.Parallel()
	env, args, db := postgresStore(t)
	checkpointOnShutdown(t, env, args, db)
}
