package certificates

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/certhub/certhub/internal/errs"
)

// IdentifierPrefix is the GB/T 36904 object identifier arc of e-certificates:
// 1.2.156 (China) . 3005 (licence identification) . 2 (e-certificate).
const IdentifierPrefix = "1.2.156.3005.2."

const alnum36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// mod3736 computes the ISO/IEC 7064 hybrid MOD 37,36 check character over s,
// whose characters must be in 0-9A-Z.
func mod3736(s string) (byte, bool) {
	const m = 36
	p := m
	for i := 0; i < len(s); i++ {
		v := strings.IndexByte(alnum36, s[i])
		if v < 0 {
			return 0, false
		}
		t := (p + v) % m
		if t == 0 {
			t = m
		}
		p = (t * 2) % (m + 1)
	}
	return alnum36[(m+1-p)%m], true
}

// Identifier is a parsed certificate identifier:
// 1.2.156.3005.2.<type code>.<issuer USCC>.<serial>.<version>.<check>.
type Identifier struct {
	TypeCode string // defining authority's USCC (18) + 3 digits
	Issuer   string // issuing authority's USCC
	Serial   string // decimal digits, allocated per type and issuer
	Version  int    // 1…999
}

// String formats the identifier with its check character.
func (id Identifier) String() string {
	v := fmt.Sprintf("%03d", id.Version)
	c, _ := mod3736(id.TypeCode + id.Issuer + id.Serial + v)
	return IdentifierPrefix + id.TypeCode + "." + id.Issuer + "." + id.Serial + "." + v + "." + string(c)
}

// Lineage names the certificate independent of its version.
func (id Identifier) Lineage() string { return id.TypeCode + "." + id.Issuer + "." + id.Serial }

// WithVersion returns the identifier of another version of the same certificate.
func (id Identifier) WithVersion(v int) Identifier { id.Version = v; return id }

// ParseIdentifier parses and checks a certificate identifier. The error names
// the part that is wrong.
func ParseIdentifier(s string) (Identifier, error) {
	const field = "id"
	if len(s) > 128 {
		return Identifier{}, errs.Field(field, "identifier is too long (%d characters)", len(s))
	}
	if !strings.HasPrefix(s, IdentifierPrefix) {
		return Identifier{}, errs.Field(field, "identifier must start with %q", IdentifierPrefix)
	}
	parts := strings.Split(s[len(IdentifierPrefix):], ".")
	if len(parts) != 5 {
		return Identifier{}, errs.Field(field, "identifier must have 5 components after the prefix (type code, issuer, serial, version, check), got %d", len(parts))
	}
	typeCode, issuer, serial, version, check := parts[0], parts[1], parts[2], parts[3], parts[4]
	if err := ValidateTypeCode(typeCode); err != nil {
		return Identifier{}, errs.Field(field, "type code: %s", reason(err))
	}
	if err := ValidateUSCC(issuer); err != nil {
		return Identifier{}, errs.Field(field, "issuer: %s", reason(err))
	}
	if serial == "" || len(serial) > 20 || !allDigits(serial) {
		return Identifier{}, errs.Field(field, "serial must be 1 to 20 digits")
	}
	if len(version) != 3 || !allDigits(version) || version == "000" {
		return Identifier{}, errs.Field(field, "version must be 3 digits from 001")
	}
	if len(check) != 1 {
		return Identifier{}, errs.Field(field, "check must be one character")
	}
	want, _ := mod3736(typeCode + issuer + serial + version)
	if check[0] != want {
		return Identifier{}, errs.Field(field, "check character %q is wrong", check)
	}
	v, _ := strconv.Atoi(version)
	return Identifier{TypeCode: typeCode, Issuer: issuer, Serial: serial, Version: v}, nil
}

// ValidateTypeCode checks a GB/T 36904 type code: the defining authority's
// USCC followed by a 3-digit sequence.
func ValidateTypeCode(code string) error {
	if len(code) != 21 {
		return errs.Field("code", "type code must be 21 characters (USCC of the defining authority + 3 digits), got %d", len(code))
	}
	if err := ValidateUSCC(code[:18]); err != nil {
		return errs.Field("code", "type code's first 18 characters: %s", reason(err))
	}
	if !allDigits(code[18:]) {
		return errs.Field("code", "type code must end in 3 digits")
	}
	return nil
}

// IDKind is what kind of identifier a string is.
type IDKind string

// Identifier kinds reported by Classify.
const (
	KindCitizenID   IDKind = "citizen_id"  // 公民身份号码, GB 11643
	KindUSCC        IDKind = "uscc"        // 统一社会信用代码, GB 32100
	KindCertificate IDKind = "certificate" // 电子证照标识, GB/T 36904
	KindTypeCode    IDKind = "type_code"   // 证照类型代码
	KindUnknown     IDKind = "unknown"
)

// Classify guesses what kind of identifier s is and validates it as that kind.
func Classify(s string) (IDKind, error) {
	switch {
	case strings.HasPrefix(s, "1.2.156."):
		_, err := ParseIdentifier(s)
		return KindCertificate, err
	case len(s) == 21:
		return KindTypeCode, ValidateTypeCode(s)
	case len(s) == 18 && allDigits(s[:17]) && isBirthDateShaped(s):
		return KindCitizenID, ValidateCitizenID(s)
	case len(s) == 18:
		return KindUSCC, ValidateUSCC(s)
	}
	return KindUnknown, errs.E(errs.Invalid, "not a citizen ID number, USCC, type code or certificate identifier (length %d)", len(s))
}

// isBirthDateShaped tells an 18-digit string that looks like a citizen ID
// (positions 7-14 begin with 19 or 20) from an all-digit USCC.
func isBirthDateShaped(s string) bool {
	return s[6:8] == "19" || s[6:8] == "20" || s[6:8] == "18"
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// reason extracts the message of an *errs.Error.
func reason(err error) string {
	if e, ok := err.(*errs.Error); ok {
		return e.Message
	}
	return err.Error()
}

// citizenWeights are 2^(17-i) mod 11 for GB 11643.
var citizenWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const citizenChecks = "10X98765432"

// ValidateCitizenID checks a GB 11643 citizen identity number: 18 characters,
// 17 digits, a real birth date, and the ISO 7064 MOD 11-2 check character.
func ValidateCitizenID(s string) error {
	const field = "id"
	if len(s) != 18 {
		return errs.Field(field, "citizen ID number must be 18 characters, got %d", len(s))
	}
	if !allDigits(s[:17]) {
		return errs.Field(field, "citizen ID number's first 17 characters must be digits")
	}
	if _, err := time.Parse("20060102", s[6:14]); err != nil {
		return errs.Field(field, "citizen ID number's birth date %s is not a real date", s[6:14])
	}
	if s[6:14] < "18000101" {
		return errs.Field(field, "citizen ID number's birth date %s is implausible", s[6:14])
	}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(s[i]-'0') * citizenWeights[i]
	}
	if want := citizenChecks[sum%11]; s[17] != want {
		return errs.Field(field, "citizen ID number's check character %q is wrong", s[17:])
	}
	return nil
}

// usccAlphabet is the GB 32100 character set (no I, O, S, V, Z).
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// ValidateUSCC checks a GB 32100 unified social credit code: 18 characters
// from 0-9 A-H J-N P-R T U W-Y, a 6-digit administrative division code at
// positions 3-8, and the weighted mod-31 check character.
func ValidateUSCC(s string) error {
	const field = "id"
	if len(s) != 18 {
		return errs.Field(field, "unified social credit code must be 18 characters, got %d", len(s))
	}
	sum := 0
	for i := 0; i < 18; i++ {
		if strings.IndexByte(usccAlphabet, s[i]) < 0 {
			return errs.Field(field, "unified social credit code has character %q at position %d, outside 0-9 A-H J-N P-R T U W-Y", s[i:i+1], i+1)
		}
		if i < 17 {
			sum += strings.IndexByte(usccAlphabet, s[i]) * usccWeights[i]
		}
	}
	if !allDigits(s[2:8]) {
		return errs.Field(field, "unified social credit code's positions 3-8 must be an administrative division code (6 digits)")
	}
	c := (31 - sum%31) % 31
	if s[17] != usccAlphabet[c] {
		return errs.Field(field, "unified social credit code's check character %q is wrong", s[17:])
	}
	return nil
}

// USCCCheck returns the check character for the first 17 characters of a USCC;
// the demo and data generators use it to make valid codes.
func USCCCheck(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(usccAlphabet, first17[i]) * usccWeights[i]
	}
	return usccAlphabet[(31-sum%31)%31]
}

// CitizenIDCheck returns the check character for the first 17 digits of a
// citizen ID number.
func CitizenIDCheck(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * citizenWeights[i]
	}
	return citizenChecks[sum%11]
}
