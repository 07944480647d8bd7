package statuslist

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/certhub/certhub/internal/errs"
)

// SeedSize is the length of a list's permutation key.
const SeedSize = 32

// feistelRounds is the number of Feistel rounds: four make a strong
// pseudo-random permutation (Luby–Rackoff); more cost nothing noticeable.
const feistelRounds = 8

// Permutation is a keyed pseudo-random permutation of [0, size): a balanced
// Feistel network over the smallest even number of bits covering size, with
// cycle-walking back into range. A list hands out Index(0), Index(1), … for
// its counter 0, 1, …: indexes look random to anyone without the seed, never
// collide (a permutation), and the list fills exactly at counter size.
type Permutation struct {
	size int
	half uint // bits per Feistel half
	seed [SeedSize]byte
}

// NewPermutation keys a permutation of [0, size) with seed (SeedSize random
// bytes, stored with the list).
func NewPermutation(size int, seed []byte) (*Permutation, error) {
	if size < 2 || size > 1<<30 {
		return nil, errs.Field("size", "a list has 2 to 2^30 entries, not %d", size)
	}
	if len(seed) != SeedSize {
		return nil, errs.Field("seed", "a list seed is %d bytes, not %d", SeedSize, len(seed))
	}
	bits := uint(1)
	for 1<<bits < size {
		bits++
	}
	p := &Permutation{size: size, half: (bits + 1) / 2}
	copy(p.seed[:], seed)
	return p, nil
}

// Size is the permutation's domain size.
func (p *Permutation) Size() int { return p.size }

// Index maps counter (0 ≤ counter < Size) to its index.
func (p *Permutation) Index(counter int) (int, error) {
	if counter < 0 || counter >= p.size {
		return 0, errs.Field("counter", "counter %d is outside the list of %d entries", counter, p.size)
	}
	x := uint64(counter)
	// Cycle-walking: the Feistel domain is at most 4×size, so on average
	// fewer than four walks bring x back into [0, size).
	for {
		x = p.feistel(x)
		if x < uint64(p.size) {
			return int(x), nil
		}
	}
}

func (p *Permutation) feistel(x uint64) uint64 {
	mask := uint64(1)<<p.half - 1
	l, r := x>>p.half, x&mask
	var buf [SeedSize + 1 + 8]byte
	copy(buf[:], p.seed[:])
	for round := 0; round < feistelRounds; round++ {
		buf[SeedSize] = byte(round)
		binary.BigEndian.PutUint64(buf[SeedSize+1:], r)
		sum := sha256.Sum256(buf[:])
		l, r = r, l^(binary.BigEndian.Uint64(sum[:8])&mask)
	}
	return l<<p.half | r
}
