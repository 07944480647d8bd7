package compactqr

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certhub/certhub/internal/compactqr/compactqrtest"
	"github.com/certhub/certhub/internal/qr"
	"github.com/certhub/certhub/internal/testenv"
)

// tamper changes one payload character of text and re-encodes it, keeping
// the signature: an independent verifier must refuse it.
func tamper(t *testing.T, text string) string {
	t.Helper()
	m := unpack(t, text)
	i := strings.Index(string(m.Payload), "2026000731")
	if i < 0 {
		t.Fatal("serial not in payload")
	}
	m.Payload[i] = '9'
	return repack(t, m)
}

func independentCases(t *testing.T, run compactqrtest.Verifier) {
	for _, k := range keys(t) {
		t.Run(k.name, func(t *testing.T) {
			in := typical()
			text, err := Encode(k.signer, k.thumb, in)
			if err != nil {
				t.Fatal(err)
			}
			j, _ := json.Marshal(k.jwk)
			dir := t.TempDir()
			good, bad := filepath.Join(dir, "good.txt"), filepath.Join(dir, "bad.txt")
			_ = os.WriteFile(good, []byte(text), 0o600)
			_ = os.WriteFile(bad, []byte(tamper(t, text)), 0o600)
			out, ok := run(t, good, j)
			want := strings.Join([]string{hexString(k.thumb[:KidSize]), in.Licence.ID, in.Licence.ValidFrom.String(),
				in.Licence.ValidUntil.String(), in.Licence.Fields[foodPermitNo].(string), "93172", in.Status.URI}, " ")
			if !ok || out != want {
				t.Fatalf("valid code refused or misread: %q, want %q", out, want)
			}
			if out, ok := run(t, bad, j); ok {
				t.Fatalf("tampered code accepted: %s", out)
			}
		})
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, digits[c>>4], digits[c&15])
	}
	return string(s)
}

// TestPythonVerifies checks the profile with Debian python3-cbor2 and
// python3-cryptography.
func TestPythonVerifies(t *testing.T) { independentCases(t, compactqrtest.Python(t)) }

// TestNodeVerifies checks the profile with npm base45@3.0.0, cbor2@2.3.0
// and node:crypto.
func TestNodeVerifies(t *testing.T) { independentCases(t, compactqrtest.Node(t)) }

// TestQRReadersReadBack renders the text as a QR code (alphanumeric, Q, 4 px
// per module) and reads it back with zbarimg, ZXingReader and gozxing.
func TestQRReadersReadBack(t *testing.T) {
	k := keys(t)[0]
	text, err := Encode(k.signer, k.thumb, typical())
	if err != nil {
		t.Fatal(err)
	}
	png, err := qr.AlphanumericPNG(text, 4)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := qr.Decode(png); err != nil || got != text {
		t.Fatalf("gozxing: %v, read %q", err, got)
	}
	file := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(file, png, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		tool, install string
		args          []string
	}{
		{"zbarimg", "Debian zbar-tools", []string{"--raw", "-q", file}},
		{"ZXingReader", "Debian zxing-cpp-tools", []string{"-format", "QRCode", "-bytes", file}},
	} {
		t.Run(r.tool, func(t *testing.T) {
			bin := testenv.Tool(t, r.tool, r.install)
			out, err := exec.Command(bin, r.args...).Output()
			if err != nil {
				t.Fatalf("%s: %v", r.tool, err)
			}
			got := strings.TrimRight(string(out), "\n")
			if got != text {
				t.Fatalf("%s read\n%q\nwant\n%q", r.tool, got, text)
			}
		})
	}
}
