package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

const shareColumns = `id, token_hash, holder_index, certificate_id, fields, purpose, show_name, created_at, expires_at, max_views, views, revoked_at`

func scanShare(r Row) (*exchange.Share, error) {
	s := &exchange.Share{}
	var fields string
	var maxViews *int64
	err := r.Scan(&s.ID, &s.TokenHash, &s.HolderIndex, &s.CertificateID, &fields, &s.Purpose, &s.ShowName,
		Time{&s.CreatedAt}, Time{&s.ExpiresAt}, &maxViews, &s.Views, NullTime{&s.RevokedAt})
	if err != nil {
		return nil, err
	}
	if maxViews != nil {
		n := int(*maxViews)
		s.MaxViews = &n
	}
	if err := json.Unmarshal([]byte(fields), &s.Fields); err != nil {
		return nil, errs.Wrap(err, "decode share fields")
	}
	return s, nil
}

// CreateShare implements exchange.ShareStore.
func (s *Store) CreateShare(ctx context.Context, sh *exchange.Share) error {
	fields, _ := json.Marshal(sh.Fields)
	_, err := s.db.Exec(ctx, `INSERT INTO shares (`+shareColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		sh.ID, sh.TokenHash, sh.HolderIndex, sh.CertificateID, string(fields), sh.Purpose, sh.ShowName,
		sh.CreatedAt, sh.ExpiresAt, sh.MaxViews, sh.Views, sh.RevokedAt)
	return conflict(err, "share %s already exists", sh.ID)
}

// ListShares implements exchange.ShareStore.
func (s *Store) ListShares(ctx context.Context, holderIndex string) ([]*exchange.Share, error) {
	return list(ctx, s.db, scanShare, `SELECT `+shareColumns+` FROM shares WHERE holder_index = $1 ORDER BY created_at DESC, id`, holderIndex)
}

// RevokeShare implements exchange.ShareStore.
func (s *Store) RevokeShare(ctx context.Context, id, holderIndex string, at time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE shares SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND holder_index = $2`, id, holderIndex, at)
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.E(errs.NotFound, "you have no share %s", id)
	}
	return nil
}

// UseShare implements exchange.ShareStore. Views are group-committed:
// concurrent calls queue up and one writer commits them together, in order,
// in one transaction, so a batch costs one fsync (SQLite has a single
// writer) instead of one per view. Each call still returns only after its
// own view is durable, and max_views stays exact because the conditional
// updates run one after another inside the transaction.
func (s *Store) UseShare(ctx context.Context, tokenHash string, v exchange.ShareView, now time.Time) (*exchange.Share, error) {
	return s.views.do(ctx, s.quit, viewReq{hash: tokenHash, view: v, now: now})
}

type viewReq struct {
	hash string
	view exchange.ShareView
	now  time.Time
}

// applyViews is the share views' group-commit step.
func applyViews(_ context.Context, q Querier, batch []groupReq[viewReq]) ([]groupRes[*exchange.Share], error) {
	out := make([]groupRes[*exchange.Share], len(batch))
	for i, r := range batch {
		if r.ctx.Err() != nil {
			out[i].err = r.ctx.Err() // the caller is gone: count nothing
			continue
		}
		sh, err := useShare(r.ctx, q, r.req.hash, r.req.now, r.req.view)
		if errs.Is(err, errs.NotFound) {
			out[i].err = err
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i].val = sh
	}
	return out, nil
}

func useShare(ctx context.Context, q Querier, tokenHash string, now time.Time, v exchange.ShareView) (*exchange.Share, error) {
	sh, err := scanShare(q.QueryRow(ctx, `UPDATE shares SET views = views + 1
		WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2 AND (max_views IS NULL OR views < max_views)
		RETURNING `+shareColumns, tokenHash, now))
	if err != nil {
		return nil, notFound(err, "this share link is not valid")
	}
	// The view happens now: the time the liveness check used.
	if _, err := q.Exec(ctx, `INSERT INTO share_views (share_id, at, client, network) VALUES ($1, $2, $3, $4)`,
		sh.ID, now, v.Client, v.Network); err != nil {
		return nil, err
	}
	return sh, nil
}

// ListShareViews implements exchange.ShareStore.
func (s *Store) ListShareViews(ctx context.Context, holderIndex string, limit int) ([]exchange.ShareView, error) {
	rows, err := s.db.Query(ctx, `SELECT v.share_id, v.at, v.client, v.network FROM share_views v
		JOIN shares s ON s.id = v.share_id WHERE s.holder_index = $1 ORDER BY v.seq DESC LIMIT $2`, holderIndex, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []exchange.ShareView
	for rows.Next() {
		var v exchange.ShareView
		if err := rows.Scan(&v.ShareID, Time{&v.At}, &v.Client, &v.Network); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
