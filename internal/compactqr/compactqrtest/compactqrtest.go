// Package compactqrtest runs the independent compact QR verifiers (Debian
// python3-cbor2 + python3-cryptography; npm base45 + cbor2 + node:crypto)
// on a text and a public JWK, for the codec's tests and the endpoint's.
// Each prints "kid identifier validFrom validUntil field1 statusIdx
// statusURI" ("-" for no status claim) for a code it accepts and exits
// non-zero otherwise.
package compactqrtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certhub/certhub/internal/testenv"
)

// verifyPy is an independent verifier: Debian python3-cbor2 and
// python3-cryptography, with its own Base45. argv: text file, JWK.
const verifyPy = `
import sys, json, zlib, base64, cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils
A = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
def b45decode(s):
    out = bytearray()
    for i in range(0, len(s), 3):
        c = s[i:i+3]
        n = sum(A.index(ch) * 45**k for k, ch in enumerate(c))
        if len(c) == 1 or n > (0xffff if len(c) == 3 else 0xff):
            raise ValueError("bad base45")
        out += n.to_bytes(len(c) - 1, "big")
    return bytes(out)
def b64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
text = open(sys.argv[1]).read()
jwk = json.loads(sys.argv[2])
assert text.startswith("CH1:"), "prefix"
msg = cbor2.loads(zlib.decompress(b45decode(text[4:])))
assert isinstance(msg, cbor2.CBORTag) and msg.tag == 18, "not a tagged COSE_Sign1"
protected, unprotected, payload, sig = msg.value
hdr = cbor2.loads(protected)
tbs = cbor2.dumps(["Signature1", protected, b"", payload])
if jwk["kty"] == "EC":
    assert hdr[1] == -7, "alg"
    pub = ec.EllipticCurvePublicNumbers(int.from_bytes(b64u(jwk["x"]), "big"),
        int.from_bytes(b64u(jwk["y"]), "big"), ec.SECP256R1()).public_key()
    der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    pub.verify(der, tbs, ec.ECDSA(hashes.SHA256()))
else:
    assert hdr[1] == -8, "alg"
    ed25519.Ed25519PublicKey.from_public_bytes(b64u(jwk["x"])).verify(sig, tbs)
claims = cbor2.loads(payload)
lic = claims[-65537]
import datetime
def day(v):  # RFC 8943: tag 100, days since 1970-01-01
    assert isinstance(v, cbor2.CBORTag) and v.tag == 100, "date is not tag 100"
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=v.value)).isoformat()
st = claims.get(65535, {}).get("status_list", {})
print(hdr[4].hex(), lic[1], day(lic[7]), day(lic[8]), lic[9][1], st.get("idx", "-"), st.get("uri", "-"))
`

// verifyMjs is the same verifier on npm base45 + cbor2 and node:crypto.
// argv: text file, JWK.
const verifyMjs = `
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { verify, createPublicKey } from 'node:crypto';
import { decode, encode } from 'cbor2';
import { inflateSync } from 'node:zlib';
const base45 = createRequire(import.meta.url)('base45');
const text = readFileSync(process.argv[2], 'utf8');
const jwk = JSON.parse(process.argv[3]);
if (!text.startsWith('CH1:')) throw new Error('prefix');
const msg = decode(inflateSync(base45.decode(text.slice(4))), { preferMap: true });
if (msg.tag !== 18) throw new Error('not a tagged COSE_Sign1');
const [protectedBytes, , payload, sig] = msg.contents;
const hdr = decode(protectedBytes, { preferMap: true });
// Sig_structure (RFC 9052 section 4.4); plain Uint8Arrays, because cbor2
// encodes a Buffer as an object.
const u8 = (b) => new Uint8Array(b);
const tbs = encode(['Signature1', u8(protectedBytes), new Uint8Array(0), u8(payload)]);
const key = createPublicKey({ key: jwk, format: 'jwk' });
const ok = jwk.kty === 'EC'
  ? hdr.get(1) === -7 && verify('sha256', tbs, { key, dsaEncoding: 'ieee-p1363' }, sig)
  : hdr.get(1) === -8 && verify(null, tbs, key, sig);
if (!ok) { console.error('bad signature'); process.exit(1); }
const claims = decode(payload, { preferMap: true });
const lic = claims.get(-65537);
// RFC 8943: tag 100 around days since 1970-01-01 (cbor2 may already make it a Date).
const day = (v) => v instanceof Date ? v.toISOString().slice(0, 10)
  : (v.tag === 100 ? new Date(Number(v.contents) * 86400000).toISOString().slice(0, 10) : (() => { throw new Error('date is not tag 100'); })());
const st = claims.get(65535)?.get('status_list');
console.log(Buffer.from(hdr.get(4)).toString('hex'), lic.get(1), day(lic.get(7)), day(lic.get(8)), lic.get(9).get(1),
  String(st?.get('idx') ?? '-'), st?.get('uri') ?? '-');
`

// Verifier runs one independent verifier on a text file and a JWK; it
// returns the verifier's output and whether it accepted.
type Verifier func(t *testing.T, textFile string, jwk []byte) (string, bool)

// Python is the Debian python3-cbor2 + python3-cryptography verifier.
func Python(t testing.TB) Verifier {
	t.Helper()
	py := testenv.Tool(t, "/usr/bin/python3", "Debian python3")
	if out, err := exec.Command(py, "-c", "import cbor2, cryptography").CombinedOutput(); err != nil {
		testenv.Unavailable(t, "python3-cbor2 and python3-cryptography", "apt-get install python3-cbor2 python3-cryptography: "+string(out))
	}
	script := filepath.Join(t.TempDir(), "verify.py")
	if err := os.WriteFile(script, []byte(verifyPy), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T, textFile string, jwk []byte) (string, bool) {
		return run(t, exec.Command(py, script, textFile, string(jwk)))
	}
}

// Node is the npm base45@3.0.0 + cbor2@2.3.0 + node:crypto verifier.
func Node(t testing.TB) Verifier {
	t.Helper()
	node, dir := testenv.NPM(t, "base45@3.0.0", "cbor2@2.3.0")
	script := filepath.Join(dir, "verify.mjs")
	if err := os.WriteFile(script, []byte(verifyMjs), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(t *testing.T, textFile string, jwk []byte) (string, bool) {
		return run(t, exec.Command(node, script, textFile, string(jwk)))
	}
}

// run runs a verifier; it returns its output and whether it accepted.
func run(t *testing.T, cmd *exec.Cmd) (string, bool) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("%s: %v", cmd.Path, err)
		}
		return string(out), false
	}
	return strings.TrimSpace(string(out)), true
}
