package sqlstore

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/certhub/certhub/certificates"
	"github.com/certhub/certhub/internal/errs"
	"github.com/certhub/certhub/internal/statuslist"
)

// maxAllocationRetries bounds the compare-and-set loop of AllocateStatus: a
// retry means another replica took entries of the same list meanwhile.
const maxAllocationRetries = 100

// AllocateStatus implements certificates.Store. Entries are taken with a
// compare-and-set on the list's counter, so concurrent transactions (other
// replicas) never take the same counter; the permutation turns counters
// into indexes. It runs in its own short transaction, before the documents
// that carry the indexes are sealed, like NextSerials.
func (s *Store) AllocateStatus(ctx context.Context, size, n int, at time.Time) ([]certificates.StatusRef, error) {
	if size < 8 || size%8 != 0 || size > 1<<30 {
		return nil, errs.Field("size", "a status list has a positive multiple of 8 entries up to 2^30, not %d", size)
	}
	if n <= 0 {
		return nil, errs.Field("n", "must be positive, not %d", n)
	}
	out := make([]certificates.StatusRef, 0, n)
	err := s.db.InTx(ctx, func(q Querier) error {
		for tries := 0; len(out) < n; tries++ {
			if tries > maxAllocationRetries {
				return errs.E(errs.Unavailable, "status list allocation kept colliding with other writers; try again")
			}
			var number, lsize, counter int
			var seed []byte
			err := q.QueryRow(ctx, `SELECT number, size, counter, seed FROM status_lists WHERE counter < size
				ORDER BY number LIMIT 1`).Scan(&number, &lsize, &counter, &seed)
			if errs.Is(err, errs.NotFound) {
				if err := openStatusList(ctx, q, size, at); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			take := min(n-len(out), lsize-counter)
			moved, err := q.Exec(ctx, `UPDATE status_lists SET counter = $3 WHERE number = $1 AND counter = $2`,
				number, counter, counter+take)
			if err != nil {
				return err
			}
			if moved != 1 {
				continue // another writer took entries first: read again
			}
			p, err := statuslist.NewPermutation(lsize, seed)
			if err != nil {
				return errs.Wrap(err, "status list %d", number)
			}
			for c := counter; c < counter+take; c++ {
				idx, err := p.Index(c)
				if err != nil {
					return errs.Wrap(err, "status list %d", number)
				}
				out = append(out, certificates.StatusRef{List: number, Index: idx})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// openStatusList opens the next list with a fresh permutation key, unless
// a list with room exists by the time the insert runs: another writer may
// have opened and committed one since this one looked (on PostgreSQL each
// statement sees what was committed before it started), and a second list
// would leave the first one's room unused. Two writers opening one at once
// collide on the number; the loser's insert does nothing and it takes
// entries from the winner's list.
func openStatusList(ctx context.Context, q Querier, size int, at time.Time) error {
	seed := make([]byte, statuslist.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return errs.Wrap(err, "status list seed")
	}
	_, err := q.Exec(ctx, `INSERT INTO status_lists (number, size, counter, seed, created_at)
		SELECT COALESCE(MAX(number), 0) + 1, $1, 0, $2, $3 FROM status_lists WHERE true
		HAVING NOT EXISTS (SELECT 1 FROM status_lists WHERE counter < size)
		ON CONFLICT (number) DO NOTHING`, size, seed, at)
	return err
}

// StatusEntries implements certificates.Store.
func (s *Store) StatusEntries(ctx context.Context, list int) (int, []certificates.StatusEntry, error) {
	var size int
	if err := s.db.QueryRow(ctx, `SELECT size FROM status_lists WHERE number = $1`, list).Scan(&size); err != nil {
		return 0, nil, notFound(err, "status list %d does not exist", list)
	}
	rows, err := s.db.Query(ctx, `SELECT status_index, state FROM certificates WHERE status_list = $1 AND state <> 'valid'
		ORDER BY status_index`, list)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	var out []certificates.StatusEntry
	for rows.Next() {
		var e certificates.StatusEntry
		var state string
		if err := rows.Scan(&e.Index, &state); err != nil {
			return 0, nil, err
		}
		e.State = certificates.State(state)
		out = append(out, e)
	}
	return size, out, rows.Err()
}

func statusList(c *certificates.Certificate) any {
	if c.Status == nil {
		return nil
	}
	return c.Status.List
}

func statusIndex(c *certificates.Certificate) any {
	if c.Status == nil {
		return nil
	}
	return c.Status.Index
}
