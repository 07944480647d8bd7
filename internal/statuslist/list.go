package statuslist

import (
	"github.com/certhub/certhub/internal/errs"
)

// List is a status list: Len entries of Bits bits each, packed as the IETF
// Token Status List packs them (least significant bits first within each
// byte). certhub writes lists of two bits per entry; a decoded list may
// have 1, 2, 4 or 8.
type List struct {
	bits int
	n    int
	b    []byte
}

// New returns a list of size entries, all Valid, two bits each.
func New(size int) (*List, error) {
	if size <= 0 || size%4 != 0 {
		return nil, errs.Field("size", "a list has a positive multiple of 4 entries (whole bytes), not %d", size)
	}
	return &List{bits: 2, n: size, b: make([]byte, size/4)}, nil
}

// Len is the number of entries.
func (l *List) Len() int { return l.n }

// Bits is the number of bits per entry.
func (l *List) Bits() int { return l.bits }

// Get returns entry idx; an index outside the list is an Invalid error
// naming "idx".
func (l *List) Get(idx int) (Status, error) {
	if idx < 0 || idx >= l.n {
		return 0, errs.Field("idx", "index %d is outside the list of %d entries", idx, l.n)
	}
	per := 8 / l.bits
	shift := uint((idx % per) * l.bits)
	mask := byte(1<<l.bits - 1)
	return Status(l.b[idx/per] >> shift & mask), nil
}

// Set writes entry idx.
func (l *List) Set(idx int, s Status) error {
	if idx < 0 || idx >= l.n {
		return errs.Field("idx", "index %d is outside the list of %d entries", idx, l.n)
	}
	if int(s) >= 1<<l.bits {
		return errs.Field("status", "status %d does not fit in %d bits", s, l.bits)
	}
	per := 8 / l.bits
	shift := uint((idx % per) * l.bits)
	mask := byte(1<<l.bits-1) << shift
	i := idx / per
	l.b[i] = l.b[i]&^mask | byte(s)<<shift
	return nil
}

// Bitstring is one W3C Bitstring Status List: one bit per entry, entry 0
// the left-most (most significant) bit of byte 0.
type Bitstring struct {
	n int
	b []byte
}

// Len is the number of entries.
func (s *Bitstring) Len() int { return s.n }

// Get reports whether entry idx's bit is set; an index outside the list is
// an Invalid error naming "idx".
func (s *Bitstring) Get(idx int) (bool, error) {
	if idx < 0 || idx >= s.n {
		return false, errs.Field("idx", "index %d is outside the list of %d entries", idx, s.n)
	}
	return s.b[idx/8]&(0x80>>uint(idx%8)) != 0, nil
}

// Bitstring returns the W3C bitstring of purpose p: for Revocation a bit is
// set where the entry is Invalid, for Suspension where it is Suspended.
func (l *List) Bitstring(p Purpose) (*Bitstring, error) {
	var want Status
	switch p {
	case Revocation:
		want = Invalid
	case Suspension:
		want = Suspended
	default:
		return nil, errs.Field("statusPurpose", "purpose %q is neither %q nor %q", p, Revocation, Suspension)
	}
	out := &Bitstring{n: l.n, b: make([]byte, (l.n+7)/8)}
	per := 8 / l.bits
	mask := byte(1<<l.bits - 1)
	for i, c := range l.b {
		if c == 0 { // most entries are valid: skip whole bytes
			continue
		}
		for j := 0; j < per; j++ {
			if Status(c>>uint(j*l.bits)&mask) == want {
				idx := i*per + j
				out.b[idx/8] |= 0x80 >> uint(idx%8)
			}
		}
	}
	return out, nil
}
