package sqlstore

import (
	"context"
	"encoding/json"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

const itemColumns = `code, name, department, materials, created_at, updated_at`

func scanItem(r Row) (*exchange.ServiceItem, error) {
	it := &exchange.ServiceItem{}
	var materials string
	if err := r.Scan(&it.Code, &it.Name, &it.Department, &materials, Time{&it.CreatedAt}, Time{&it.UpdatedAt}); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(materials), &it.Materials); err != nil {
		return nil, errs.Wrap(err, "decode materials of %s", it.Code)
	}
	return it, nil
}

// PutItems implements exchange.ItemStore.
func (s *Store) PutItems(ctx context.Context, items []*exchange.ServiceItem) error {
	return s.db.InTx(ctx, func(q Querier) error {
		for _, it := range items {
			m, err := json.Marshal(it.Materials)
			if err != nil {
				return err
			}
			if _, err := q.Exec(ctx, `INSERT INTO service_items (`+itemColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (code) DO UPDATE SET name = excluded.name, department = excluded.department, materials = excluded.materials,
				updated_at = excluded.updated_at`, it.Code, it.Name, it.Department, string(m), it.CreatedAt, it.UpdatedAt); err != nil {
				return err
			}
		}
		return nil
	})
}

// Item implements exchange.ItemStore.
func (s *Store) Item(ctx context.Context, code string) (*exchange.ServiceItem, error) {
	it, err := scanItem(s.db.QueryRow(ctx, `SELECT `+itemColumns+` FROM service_items WHERE code = $1`, code))
	if err != nil {
		return nil, notFound(err, "no service item %s", code)
	}
	return it, nil
}

// ListItems implements exchange.ItemStore.
func (s *Store) ListItems(ctx context.Context) ([]*exchange.ServiceItem, error) {
	return list(ctx, s.db, scanItem, `SELECT `+itemColumns+` FROM service_items ORDER BY code`)
}

// RecordResolution implements exchange.ItemStore. A case is keyed by
// item, consumer and case id: offices number their cases independently.
func (s *Store) RecordResolution(ctx context.Context, r *exchange.Resolution) error {
	_, err := s.db.Exec(ctx, `INSERT INTO resolutions (item_code, consumer, case_id, department, day, required, avoided, avoidable, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (item_code, consumer, case_id) DO UPDATE
		SET avoided = excluded.avoided, avoidable = excluded.avoidable, required = excluded.required
		WHERE excluded.avoided > resolutions.avoided
		   OR (excluded.avoided = resolutions.avoided AND excluded.avoidable < resolutions.avoidable)`,
		r.Item, r.Consumer, r.CaseID, r.Department, r.Day, r.Required, r.Avoided, r.Avoidable, r.At)
	return err
}

// Resolutions implements exchange.ItemStore.
func (s *Store) Resolutions(ctx context.Context, from, to string) ([]exchange.Resolution, error) {
	out, err := list(ctx, s.read(ctx), func(r Row) (exchange.Resolution, error) {
		var x exchange.Resolution
		return x, r.Scan(&x.Item, &x.Consumer, &x.CaseID, &x.Department, &x.Day, &x.Required, &x.Avoided, &x.Avoidable, Time{&x.At})
	}, `SELECT item_code, consumer, case_id, department, day, required, avoided, avoidable, at FROM resolutions
		WHERE day >= $1 AND day <= $2 ORDER BY day, item_code, consumer, case_id`, from, to)
	return out, err
}
