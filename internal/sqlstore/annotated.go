package sqlstore

import (
	"context"
	"time"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

const annotationColumns = `id, certificate_id, holder_index, requester, agreement, purpose, case_id, expires_on, created_at, revoked_at`

func scanAnnotation(r Row) (*exchange.Annotation, error) {
	a := &exchange.Annotation{}
	err := r.Scan(&a.ID, &a.CertificateID, &a.HolderIndex, &a.Requester, &a.Agreement, &a.Purpose, &a.CaseID,
		&a.ExpiresOn, Time{&a.CreatedAt}, NullTime{&a.RevokedAt})
	return a, err
}

// CreateAnnotation implements exchange.AnnotationStore.
func (s *Store) CreateAnnotation(ctx context.Context, a *exchange.Annotation) error {
	_, err := s.db.Exec(ctx, `INSERT INTO annotated_copies (`+annotationColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		a.ID, a.CertificateID, a.HolderIndex, a.Requester, a.Agreement, a.Purpose, a.CaseID, a.ExpiresOn, a.CreatedAt, a.RevokedAt)
	return conflict(err, "annotated copy %s already exists", a.ID)
}

// GetAnnotation implements exchange.AnnotationStore.
func (s *Store) GetAnnotation(ctx context.Context, id string) (*exchange.Annotation, error) {
	a, err := scanAnnotation(s.db.QueryRow(ctx, `SELECT `+annotationColumns+` FROM annotated_copies WHERE id = $1`, id))
	if err != nil {
		return nil, notFound(err, "no annotated copy %s", id)
	}
	return a, nil
}

// ListAnnotations implements exchange.AnnotationStore.
func (s *Store) ListAnnotations(ctx context.Context, holderIndex string) ([]*exchange.Annotation, error) {
	return list(ctx, s.db, scanAnnotation, `SELECT `+annotationColumns+` FROM annotated_copies WHERE holder_index = $1
		ORDER BY created_at DESC, id`, holderIndex)
}

// RevokeAnnotation implements exchange.AnnotationStore.
func (s *Store) RevokeAnnotation(ctx context.Context, id, holderIndex string, at time.Time) error {
	n, err := s.db.Exec(ctx, `UPDATE annotated_copies SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND holder_index = $2`, id, holderIndex, at)
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.E(errs.NotFound, "you have no annotated copy %s", id)
	}
	return nil
}
