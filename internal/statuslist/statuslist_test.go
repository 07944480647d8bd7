package statuslist

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/testenv"
)

// TestDecodeTSLSpecExamples decodes the examples of the IETF Token Status
// List draft (section "Status List"): one with 1 bit and one with 2 bits
// per entry.
func TestDecodeTSLSpecExamples(t *testing.T) {
	for _, tc := range []struct {
		name string
		lst  string
		bits int
		want []Status
	}{
		{"1 bit", "eNrbuRgAAhcBXQ", 1, []Status{1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1}},
		{"2 bits", "eNo76fITAAPfAgc", 2, []Status{1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := DecodeTSL(tc.lst, tc.bits, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range tc.want {
				if got, err := l.Get(i); err != nil || got != want {
					t.Errorf("entry %d = %d, %v; want %d", i, got, err, want)
				}
			}
		})
	}
}

func randomList(t testing.TB, size int) (*List, map[int]Status) {
	t.Helper()
	l, err := New(size)
	if err != nil {
		t.Fatal(err)
	}
	set := map[int]Status{}
	seed := make([]byte, SeedSize)
	rand.Read(seed)
	p, _ := NewPermutation(size, seed)
	for c := 0; c < size/100; c++ {
		idx, _ := p.Index(c)
		s := Invalid
		if c%3 == 0 {
			s = Suspended
		}
		if err := l.Set(idx, s); err != nil {
			t.Fatal(err)
		}
		set[idx] = s
	}
	return l, set
}

// TestRoundTrip encodes both forms and decodes them back.
func TestRoundTrip(t *testing.T) {
	l, set := randomList(t, MinSize)
	lst, err := l.EncodeTSL()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeTSL(lst, 2, MinSize)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := l.EncodeBSL(Revocation)
	if err != nil {
		t.Fatal(err)
	}
	sus, err := l.EncodeBSL(Suspension)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := DecodeBSL(rev, MinSize)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := DecodeBSL(sus, MinSize)
	if err != nil {
		t.Fatal(err)
	}
	if back.Len() != MinSize || rb.Len() != MinSize || sb.Len() != MinSize {
		t.Fatalf("lengths %d %d %d", back.Len(), rb.Len(), sb.Len())
	}
	for i := 0; i < MinSize; i++ {
		want := set[i]
		got, _ := back.Get(i)
		r, _ := rb.Get(i)
		s, _ := sb.Get(i)
		if got != want || r != (want == Invalid) || s != (want == Suspended) {
			t.Fatalf("entry %d: tsl %d rev %v sus %v, want %d", i, got, r, s, want)
		}
	}
}

// TestBitOrder pins the two bit orders: W3C index 0 is the most
// significant bit of byte 0, IETF entry 0 the least significant bits.
func TestBitOrder(t *testing.T) {
	l, _ := New(8)
	_ = l.Set(0, Invalid)
	_ = l.Set(5, Suspended)
	if l.b[0] != 0x01 || l.b[1] != 0x08 {
		t.Fatalf("packed % x, want 01 08", l.b)
	}
	r, _ := l.Bitstring(Revocation)
	s, _ := l.Bitstring(Suspension)
	if r.b[0] != 0x80 || s.b[0] != 0x04 {
		t.Fatalf("revocation %08b suspension %08b", r.b[0], s.b[0])
	}
}

// TestDecodeBadInput: every malformed or oversized list is a precise error.
func TestDecodeBadInput(t *testing.T) {
	big, _ := New(MinSize)
	lst, _ := big.EncodeTSL()
	enc, _ := big.EncodeBSL(Revocation)
	for _, tc := range []struct {
		name  string
		err   error
		code  errs.Code
		field string
	}{
		{"tsl bits", second(DecodeTSL(lst, 3, MinSize)), errs.Invalid, "bits"},
		{"tsl base64", second(DecodeTSL("a+b/", 2, MinSize)), errs.Invalid, "lst"},
		{"tsl not zlib", second(DecodeTSL("AAAA", 2, MinSize)), errs.Invalid, "lst"},
		{"tsl too large", second(DecodeTSL(lst, 2, MinSize-4)), errs.TooLarge, "lst"},
		{"bsl prefix", second(DecodeBSL(enc[1:], MinSize)), errs.Invalid, "encodedList"},
		{"bsl base64", second(DecodeBSL("u+++", MinSize)), errs.Invalid, "encodedList"},
		{"bsl not gzip", second(DecodeBSL("uAAAA", MinSize)), errs.Invalid, "encodedList"},
		{"bsl too large", second(DecodeBSL(enc, MinSize-8)), errs.TooLarge, "encodedList"},
		{"bsl truncated", second(DecodeBSL(enc[:len(enc)-6], MinSize)), errs.Invalid, "encodedList"},
		{"get out of range", second(big.Get(MinSize)), errs.Invalid, "idx"},
		{"get negative", second(big.Get(-1)), errs.Invalid, "idx"},
		{"set too wide", big.Set(0, 4), errs.Invalid, "status"},
		{"purpose", second(big.EncodeBSL("refresh")), errs.Invalid, "statusPurpose"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e *errs.Error
			if tc.err == nil || !asErr(tc.err, &e) || e.Code != tc.code || e.Field != tc.field {
				t.Fatalf("got %v, want %s naming %s", tc.err, tc.code, tc.field)
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

func asErr(err error, e **errs.Error) bool {
	x, ok := err.(*errs.Error)
	*e = x
	return ok
}

// TestPermutationFillsExactly walks a whole list: every index once, never
// sequential runs.
func TestPermutationFillsExactly(t *testing.T) {
	for _, size := range []int{MinSize, 1000, 4096} {
		seed := make([]byte, SeedSize)
		rand.Read(seed)
		p, err := NewPermutation(size, seed)
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]bool, size)
		sequential := 0
		prev := -2
		for c := 0; c < size; c++ {
			idx, err := p.Index(c)
			if err != nil {
				t.Fatal(err)
			}
			if seen[idx] {
				t.Fatalf("size %d: index %d handed out twice", size, idx)
			}
			seen[idx] = true
			if idx == prev+1 {
				sequential++
			}
			prev = idx
		}
		// A random order has about one successor pair in size; a counter
		// would have size-1.
		if sequential > 20 {
			t.Errorf("size %d: %d of %d consecutive indexes are sequential", size, sequential, size)
		}
		if _, err := p.Index(size); err == nil {
			t.Errorf("size %d: counter past the end accepted", size)
		}
	}
	// Another seed gives another order.
	a, _ := NewPermutation(MinSize, make([]byte, SeedSize))
	one := make([]byte, SeedSize)
	one[0] = 1
	b, _ := NewPermutation(MinSize, one)
	same := 0
	for c := 0; c < 1000; c++ {
		x, _ := a.Index(c)
		y, _ := b.Index(c)
		if x == y {
			same++
		}
	}
	if same > 10 {
		t.Errorf("two seeds agree on %d of 1000 indexes", same)
	}
}

func TestParseNames(t *testing.T) {
	if n, p, err := ParseBSLName("12-suspension"); err != nil || n != 12 || p != Suspension {
		t.Fatalf("%d %s %v", n, p, err)
	}
	if n, err := ParseTSLName("3"); err != nil || n != 3 {
		t.Fatalf("%d %v", n, err)
	}
	for _, bad := range []string{"", "0", "01", "x", "1-refresh", "1-", "-revocation", "1234567890", "1.5"} {
		_, _, err1 := ParseBSLName(bad)
		_, err2 := ParseTSLName(bad)
		if !errs.Is(err1, errs.Invalid) || !errs.Is(err2, errs.Invalid) {
			t.Errorf("%q: %v, %v", bad, err1, err2)
		}
	}
}

// decodePy is an independent decoder written from the two specifications
// with the Python standard library only. argv: lst, encodedList
// (revocation), encodedList (suspension); prints the non-zero entries.
const decodePy = `
import base64, gzip, json, sys, zlib
def b64(s):
    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))
lst, rev, sus = sys.argv[1:4]
raw = zlib.decompress(b64(lst))
tsl = {}
for i in range(len(raw) * 4):
    v = (raw[i // 4] >> (2 * (i % 4))) & 3
    if v:
        tsl[i] = v
def bits(enc):
    assert enc[0] == 'u'
    b = gzip.decompress(b64(enc[1:]))
    return [i for i in range(len(b) * 8) if b[i // 8] & (0x80 >> (i % 8))]
print(json.dumps({"tsl": tsl, "n": len(raw) * 4, "revocation": bits(rev), "suspension": bits(sus)}))
`

// TestPythonDecodes checks both encodings with a stdlib-only Python decoder.
func TestPythonDecodes(t *testing.T) {
	py := testenv.Tool(t, "/usr/bin/python3", "Debian python3")
	script := filepath.Join(t.TempDir(), "decode.py")
	if err := os.WriteFile(script, []byte(decodePy), 0o600); err != nil {
		t.Fatal(err)
	}
	l, set := randomList(t, MinSize)
	lst, _ := l.EncodeTSL()
	rev, _ := l.EncodeBSL(Revocation)
	sus, _ := l.EncodeBSL(Suspension)
	out, err := exec.Command(py, script, lst, rev, sus).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var got struct {
		TSL        map[string]int `json:"tsl"`
		N          int            `json:"n"`
		Revocation []int          `json:"revocation"`
		Suspension []int          `json:"suspension"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.N != MinSize || len(got.TSL) != len(set) || len(got.Revocation)+len(got.Suspension) != len(set) {
		t.Fatalf("python saw %d entries, %d set, %d+%d bits; want %d, %d", got.N, len(got.TSL), len(got.Revocation), len(got.Suspension), MinSize, len(set))
	}
	for _, i := range got.Revocation {
		if set[i] != Invalid {
			t.Errorf("revocation bit %d set, status %d", i, set[i])
		}
	}
	for _, i := range got.Suspension {
		if set[i] != Suspended {
			t.Errorf("suspension bit %d set, status %d", i, set[i])
		}
	}
	for k, v := range got.TSL {
		var i int
		i, _ = strconv.Atoi(k)
		if set[i] != Status(v) {
			t.Errorf("tsl entry %d = %d, want %d", i, v, set[i])
		}
	}
}

func TestClaims(t *testing.T) {
	l, _ := New(MinSize)
	_ = l.Set(7, Invalid)
	iat := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	c, err := NewTSLClaims("https://hub.example/status/tsl/1", l, iat, 24*time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c)
	want := `{"sub":"https://hub.example/status/tsl/1","iat":1796259600,"exp":1796346000,"ttl":3600,"status_list":{"bits":2,"lst":"`
	if !strings.HasPrefix(string(b), want) {
		t.Fatalf("%s", b)
	}
	back, err := c.List(MinSize)
	if s, _ := back.Get(7); err != nil || s != Invalid {
		t.Fatalf("%v %d", err, s)
	}
	u := BSLURL("https://hub.example/", 1, Revocation)
	cred, err := NewBSLCredential(u, "https://hub.example", l, Revocation, iat, 24*time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(cred)
	for _, s := range []string{
		`"@context":["https://www.w3.org/ns/credentials/v2"]`,
		`"id":"https://hub.example/status/bsl/1-revocation"`,
		`"type":["VerifiableCredential","BitstringStatusListCredential"]`,
		`"validFrom":"2026-12-03T01:00:00Z","validUntil":"2026-12-04T01:00:00Z"`,
		`"credentialSubject":{"id":"https://hub.example/status/bsl/1-revocation#list","type":"BitstringStatusList","statusPurpose":"revocation","encodedList":"u`,
		`"ttl":3600000}`,
	} {
		if !strings.Contains(string(b), s) {
			t.Errorf("credential lacks %s: %s", s, b)
		}
	}
	e, _ := json.Marshal(Entries("https://hub.example", 2, 4242))
	if string(e) != `[{"id":"https://hub.example/status/bsl/2-revocation#4242","type":"BitstringStatusListEntry","statusPurpose":"revocation","statusListIndex":"4242","statusListCredential":"https://hub.example/status/bsl/2-revocation"},{"id":"https://hub.example/status/bsl/2-suspension#4242","type":"BitstringStatusListEntry","statusPurpose":"suspension","statusListIndex":"4242","statusListCredential":"https://hub.example/status/bsl/2-suspension"}]` {
		t.Errorf("entries %s", e)
	}
	cl, _ := json.Marshal(NewClaim("https://hub.example", 2, 4242))
	if string(cl) != `{"status_list":{"idx":4242,"uri":"https://hub.example/status/tsl/2"}}` {
		t.Errorf("claim %s", cl)
	}
}
