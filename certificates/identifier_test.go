package certificates

import (
	"strings"
	"testing"

	"github.com/certhub/certhub/internal/errs"
)

func TestValidateCitizenID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, wantReason string
	}{
		{"textbook example with X", "11010519491231002X", ""},
		{"valid digits", "110101199003077774", ""},
		{"wrong check", "110105194912310021", "check character"},
		{"lowercase x is not X", "11010519491231002x", "check character"},
		{"short", "1101051949123100", "18 characters"},
		{"letters", "1101A519491231002X", "digits"},
		{"february 30", "110105194902300020", "not a real date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateCitizenID(tt.in)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("ValidateCitizenID(%q) = %v, want nil", tt.in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantReason) {
				t.Fatalf("ValidateCitizenID(%q) = %v, want reason containing %q", tt.in, err, tt.wantReason)
			}
		})
	}
}

func TestValidateUSCC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, wantReason string
	}{
		{"published example", "91350100M000100Y43", ""},
		{"all digits body", "111000000000000002"[:17] + string(USCCCheck("11100000000000000")), ""},
		{"wrong check", "91350100M000100Y44", "check character"},
		{"forbidden letter I", "91350100I000100Y43", "outside"},
		{"division not digits", "91A50100M000100Y43", "administrative division"},
		{"short", "91350100M000100Y4", "18 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateUSCC(tt.in)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("ValidateUSCC(%q) = %v, want nil", tt.in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantReason) {
				t.Fatalf("ValidateUSCC(%q) = %v, want reason containing %q", tt.in, err, tt.wantReason)
			}
		})
	}
}

func TestMod3736(t *testing.T) {
	t.Parallel()
	// Every string with its check character appended must validate, and a
	// changed character must not (the hybrid system catches all single
	// substitutions).
	for _, s := range []string{"0", "A", "ZZZZ", "91350100M000100Y43001", "123456789"} {
		c, ok := mod3736(s)
		if !ok {
			t.Fatalf("mod3736(%q) rejected valid input", s)
		}
		for i := 0; i < len(s); i++ {
			for _, r := range alnum36 {
				if byte(r) == s[i] {
					continue
				}
				m := s[:i] + string(r) + s[i+1:]
				if c2, _ := mod3736(m); c2 == c {
					t.Fatalf("substitution %q -> %q not detected", s, m)
				}
			}
		}
	}
	if _, ok := mod3736("a"); ok {
		t.Fatal("lowercase accepted")
	}
}

func TestIdentifierRoundTrip(t *testing.T) {
	t.Parallel()
	id := Identifier{TypeCode: "91350100M000100Y43001", Issuer: "91350100M000100Y43", Serial: "000123", Version: 2}
	s := id.String()
	if !strings.HasPrefix(s, "1.2.156.3005.2.91350100M000100Y43001.91350100M000100Y43.000123.002.") {
		t.Fatalf("String() = %q", s)
	}
	got, err := ParseIdentifier(s)
	if err != nil {
		t.Fatalf("ParseIdentifier(%q): %v", s, err)
	}
	if got != id {
		t.Fatalf("round trip: got %+v, want %+v", got, id)
	}
	if got.Lineage() != "91350100M000100Y43001.91350100M000100Y43.000123" {
		t.Fatalf("Lineage() = %q", got.Lineage())
	}
}

func TestParseIdentifierErrors(t *testing.T) {
	t.Parallel()
	good := Identifier{TypeCode: "91350100M000100Y43001", Issuer: "91350100M000100Y43", Serial: "7", Version: 1}.String()
	badCheck := good[:len(good)-1] + string(alnum36[(strings.IndexByte(alnum36, good[len(good)-1])+1)%36])
	tests := []struct{ name, in, want string }{
		{"wrong prefix", "1.2.156.3005.3.x", "must start with"},
		{"too few parts", "1.2.156.3005.2.a.b", "5 components"},
		{"bad type code", strings.Replace(good, "M000100Y43001", "M000100Y43AAA", 1), "type code"},
		{"bad issuer", strings.Replace(good, ".91350100M000100Y43.", ".91350100M000100Y44.", 1), "issuer"},
		{"bad version", strings.Replace(good, ".001.", ".1.", 1), "version"},
		{"version zero", strings.Replace(good, ".001.", ".000.", 1), "version"},
		{"bad serial", strings.Replace(good, ".7.", ".7a.", 1), "serial"},
		{"bad check", badCheck, "check character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseIdentifier(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseIdentifier(%q) = %v, want error containing %q", tt.in, err, tt.want)
			}
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("code = %s, want invalid", errs.CodeOf(err))
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		kind  IDKind
		valid bool
	}{
		{"11010519491231002X", KindCitizenID, true},
		{"91350100M000100Y43", KindUSCC, true},
		{"91350100M000100Y43001", KindTypeCode, true},
		{"hello", KindUnknown, false},
		{"110105194912310021", KindCitizenID, false},
	}
	for _, tt := range tests {
		kind, err := Classify(tt.in)
		if kind != tt.kind || (err == nil) != tt.valid {
			t.Errorf("Classify(%q) = %s, %v; want %s valid=%v", tt.in, kind, err, tt.kind, tt.valid)
		}
	}
}

func FuzzParseIdentifier(f *testing.F) {
	f.Add(Identifier{TypeCode: "91350100M000100Y43001", Issuer: "91350100M000100Y43", Serial: "1", Version: 1}.String())
	f.Add("1.2.156.3005.2.....")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseIdentifier(s)
		if err != nil {
			return
		}
		if id.String() != s {
			t.Fatalf("accepted %q but formats as %q", s, id.String())
		}
	})
}

func FuzzHolderIDs(f *testing.F) {
	f.Add("11010519491231002X")
	f.Add("91350100M000100Y43")
	f.Add("99999999999999999999")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateCitizenID(s) == nil && CitizenIDCheck(s[:17]) != s[17] {
			t.Fatalf("citizen ID %q accepted with wrong check", s)
		}
		if ValidateUSCC(s) == nil && USCCCheck(s[:17]) != s[17] {
			t.Fatalf("USCC %q accepted with wrong check", s)
		}
		_, _ = Classify(s)
	})
}
