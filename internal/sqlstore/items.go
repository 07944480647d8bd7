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
// Records are group-committed like the ledger: concurrent resolves queue
// up and one writer commits them together (on PostgreSQL in one pipelined
// round trip), each call returning once its own record is durable. A
// commit per resolve had cost about a third of resolve's throughput
// (docs/benchmarks.md, Resolve, "The case record group-committed"). A
// resolve that wrote ledger entries records its case with them instead
// (AppendAuditCase); this queue takes the others.
func (s *Store) RecordResolution(ctx context.Context, r *exchange.Resolution) error {
	_, err := s.resolutions.do(ctx, s.quit, r)
	return err
}

// recordResolution keeps, per case, the answer that spared the most: two
// resolves of one case count once, at their best.
const recordResolution = `INSERT INTO resolutions (item_code, consumer, case_id, department, day, required, avoided, avoidable, at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (item_code, consumer, case_id) DO UPDATE
	SET avoided = excluded.avoided, avoidable = excluded.avoidable, required = excluded.required
	WHERE excluded.avoided > resolutions.avoided
	   OR (excluded.avoided = resolutions.avoided AND excluded.avoidable < resolutions.avoidable)`

// resolutionStmt records one case.
func resolutionStmt(r *exchange.Resolution) Stmt {
	return Stmt{SQL: recordResolution, Args: []any{r.Item, r.Consumer, r.CaseID, r.Department, r.Day, r.Required, r.Avoided, r.Avoidable, r.At}}
}

// applyResolutions is the resolution records' group-commit step, in queue
// order (a case resolved twice in one batch is upserted twice, in turn).
// Where the database pipelines, q is the pool (groupCommit.direct) and a
// batch goes as one pipeline, one implicit transaction; otherwise q is a
// transaction.
func applyResolutions(ctx context.Context, q Querier, batch []groupReq[*exchange.Resolution]) ([]groupRes[struct{}], error) {
	out := make([]groupRes[struct{}], len(batch))
	stmts := make([]Stmt, 0, len(batch))
	for i, g := range batch {
		if g.ctx.Err() != nil {
			out[i].err = g.ctx.Err() // the caller is gone: record nothing
			continue
		}
		stmts = append(stmts, resolutionStmt(g.req))
	}
	if b, ok := q.(Batcher); ok && len(stmts) > 1 {
		return out, b.ExecBatch(ctx, stmts)
	}
	for _, st := range stmts {
		if _, err := q.Exec(ctx, st.SQL, st.Args...); err != nil {
			return nil, err
		}
	}
	return out, nil
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
