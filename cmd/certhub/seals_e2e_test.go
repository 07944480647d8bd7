package main_test

import (
	"crypto/rand"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/certhub/certhub/internal/sestest"
	"github.com/certhub/certhub/signing"
)

// sealsRun runs `certhub seals verify` and returns its output and exit code.
func sealsRun(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(binary, append([]string{"seals", "verify"}, args...)...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("certhub seals verify: %v", err)
	return "", 0
}

// sealsHasCheck reports whether the printed report has a line "MARK NAME …".
func sealsHasCheck(out, mark, name string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == mark && f[1] == name {
			return true
		}
	}
	return false
}

// TestSealsVerifyCLI drives the built binary on a signature made here: a
// valid one, one over other data, one signed without the Z value, and a file
// that is not a signature.
func TestSealsVerifyCLI(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	root := sestest.NewRoot(t, "seal CA", now)
	maker := root.Issue(t, "seal maker", now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	signer := root.Issue(t, "某某市市场监督管理局", now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	seal, err := signing.MakeSeal(maker.Key, maker.Cert, signing.SealSpec{
		ESID: "E-0001", Name: "某某市市场监督管理局", SignerCerts: [][]byte{signer.Cert},
		Created: now.AddDate(0, -1, 0), ValidStart: now.AddDate(0, -1, 0), ValidEnd: now.AddDate(1, 0, 0),
		PNG: sestest.PNG(t), WidthMM: 42, HeightMM: 42,
	})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("<Signature/>")
	ses, err := signing.SignSES(signer.Key, signer.Cert, seal, data, now.Add(-time.Minute), "/Doc_0/Signs/Sign_0/Signature.xml")
	if err != nil {
		t.Fatal(err)
	}
	// The same TBS_Sign signed over SM3(TBS_Sign) without Z.
	var s signing.SESSignature
	if _, err := asn1.Unmarshal(ses, &s); err != nil {
		t.Fatal(err)
	}
	digest := sm3.Sum(s.ToSign.Raw)
	sig, err := signer.Key.Sign(rand.Reader, digest[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Signature = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
	noZ, err := asn1.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sesPath, noZPath := write("SignedValue.dat", ses), write("noz.dat", noZ)
	dataPath, otherPath, junkPath := write("Signature.xml", data), write("other.xml", []byte("<Other/>")), write("junk", []byte("junk"))

	out, code := sealsRun(t, sesPath, dataPath)
	if code != 0 || !strings.Contains(out, "valid") || strings.Contains(out, "FAIL") || !strings.Contains(out, "某某市市场监督管理局") {
		t.Fatalf("valid signature: exit %d\n%s", code, out)
	}
	for _, name := range []string{signing.SESCheckStructure, signing.SESCheckDataHash, signing.SESCheckSignature,
		signing.SESCheckSealSignature, signing.SESCheckSealValidity, signing.SESCheckSignerInSeal} {
		if !sealsHasCheck(out, "ok", name) {
			t.Errorf("no passing %s check in\n%s", name, out)
		}
	}

	for _, tc := range []struct {
		name, ses, data, check, want string
	}{
		{"other data", sesPath, otherPath, signing.SESCheckDataHash, "is not SM3 of the data"},
		{"signature without Z", noZPath, dataPath, signing.SESCheckSignature, "without the Z value"},
		{"not a signature", junkPath, dataPath, signing.SESCheckStructure, "not a DER SES_Signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := sealsRun(t, tc.ses, tc.data)
			if code != 1 || !strings.Contains(out, "NOT VALID") || !strings.Contains(out, tc.want) || !sealsHasCheck(out, "FAIL", tc.check) ||
				!strings.Contains(out, "the electronic signature is NOT valid") {
				t.Fatalf("exit %d, want 1 and %q:\n%s", code, tc.want, out)
			}
		})
	}

	out, code = sealsRun(t, "--json", sesPath, dataPath)
	var rep signing.SESReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.Valid || rep.ESID != "E-0001" || len(rep.Checks) != 8 {
		t.Fatalf("--json: exit %d\n%s", code, out)
	}
}
