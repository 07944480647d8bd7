package compactqr

import (
	"errors"
	"strings"
)

// base45Alphabet is RFC 9285's alphabet: exactly the QR alphanumeric set, so
// a Base45 text fills a QR code in alphanumeric mode (5.5 bits a character).
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

var errBase45 = errors.New("base45: invalid input")

// base45Encode encodes b as RFC 9285 Base45: each 2 bytes become 3
// characters (least significant first), a trailing byte 2 characters.
func base45Encode(b []byte) string {
	var s strings.Builder
	s.Grow((len(b)/2)*3 + 2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		s.WriteByte(base45Alphabet[n%45])
		s.WriteByte(base45Alphabet[(n/45)%45])
		s.WriteByte(base45Alphabet[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		s.WriteByte(base45Alphabet[n%45])
		s.WriteByte(base45Alphabet[n/45])
	}
	return s.String()
}

// base45Decode reverses base45Encode. It rejects characters outside the
// alphabet, a length of 1 mod 3, and groups whose value exceeds what their
// byte count can hold (RFC 9285 section 4.2).
func base45Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, errBase45
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		end := min(i+3, len(s))
		n, mul := 0, 1
		for j := i; j < end; j++ {
			v := strings.IndexByte(base45Alphabet, s[j])
			if v < 0 {
				return nil, errBase45
			}
			n += v * mul
			mul *= 45
		}
		if end-i == 3 {
			if n > 0xffff {
				return nil, errBase45
			}
			out = append(out, byte(n>>8), byte(n))
		} else {
			if n > 0xff {
				return nil, errBase45
			}
			out = append(out, byte(n))
		}
	}
	return out, nil
}
