package exchange

import (
	"context"
	"time"
)

// Share is a holder's time-boxed, revocable grant to show one certificate
// version, limited to chosen fields, presented as a URL /s/<token> and its
// QR code. The token is 256 random bits; only its SHA-256 is stored.
type Share struct {
	ID            string
	TokenHash     string
	HolderIndex   string
	CertificateID string
	Fields        []string
	Purpose       string // shown on the page like a watermark (加注)
	ShowName      bool   // the holder's name in clear; masked otherwise
	CreatedAt     time.Time
	ExpiresAt     time.Time
	MaxViews      *int
	Views         int
	RevokedAt     *time.Time
}

// Live reports whether the share can still be viewed at t.
func (s *Share) Live(t time.Time) bool {
	return s.RevokedAt == nil && t.Before(s.ExpiresAt) && (s.MaxViews == nil || s.Views < *s.MaxViews)
}

// ShareView is one look at a share. It keeps coarse client information
// only: the browser family and the network (IPv4 /24, IPv6 /48), never the
// full address.
type ShareView struct {
	ShareID string    `json:"share_id"`
	At      time.Time `json:"at"`
	Client  string    `json:"client"`
	Network string    `json:"network"`
}

// ShareStore keeps shares and their views.
type ShareStore interface {
	// CreateShare stores a share.
	CreateShare(ctx context.Context, s *Share) error
	// ListShares lists a holder's shares, newest first.
	ListShares(ctx context.Context, holderIndex string) ([]*Share, error)
	// RevokeShare revokes one of the holder's shares; errs.NotFound if the
	// holder has no share with that id.
	RevokeShare(ctx context.Context, id, holderIndex string, at time.Time) error
	// UseShare counts a view of the live share with this token hash and
	// records it at now, in one transaction; errs.NotFound when the token is
	// unknown, expired, revoked or used up, which callers must not tell apart.
	UseShare(ctx context.Context, tokenHash string, v ShareView, now time.Time) (*Share, error)
	// ListShareViews lists the views of a holder's shares, newest first.
	ListShareViews(ctx context.Context, holderIndex string, limit int) ([]ShareView, error)
}
