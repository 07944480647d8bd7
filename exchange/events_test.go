package exchange_test

import (
	"testing"

	"github.com/certhub/certhub/exchange"
)

// TestSubscriptionWants: the events filter applies to every delivery,
// followed certificates included; follows add certificates to what the
// types and authorities filters select, and a follower naming neither
// hears of its follows only.
func TestSubscriptionWants(t *testing.T) {
	t.Parallel()
	const typ, other, auth = "T1", "T2", "A1"
	revoked := &exchange.Event{Kind: exchange.EventRevoked, Type: typ, Authority: auth}
	issued := &exchange.Event{Kind: exchange.EventIssued, Type: typ, Authority: auth}
	otherType := &exchange.Event{Kind: exchange.EventRevoked, Type: other, Authority: auth}
	cases := []struct {
		name     string
		sub      exchange.Subscription
		e        *exchange.Event
		followed bool
		want     bool
	}{
		{"no filter", exchange.Subscription{}, issued, false, true},
		{"events filter", exchange.Subscription{Events: []string{"revoked"}}, issued, false, false},
		{"types filter", exchange.Subscription{Types: []string{typ}}, otherType, false, false},
		{"follow only, followed", exchange.Subscription{FollowDays: 30}, issued, true, true},
		{"follow only, not followed", exchange.Subscription{FollowDays: 30}, issued, false, false},
		{"follow with events, followed, other kind", exchange.Subscription{FollowDays: 30, Events: []string{"revoked"}}, issued, true, false},
		{"follow with events, followed, its kind", exchange.Subscription{FollowDays: 30, Events: []string{"revoked"}}, revoked, true, true},
		{"follow with events, not followed", exchange.Subscription{FollowDays: 30, Events: []string{"revoked"}}, revoked, false, false},
		{"follow with types, followed other type", exchange.Subscription{FollowDays: 30, Types: []string{typ}}, otherType, true, true},
		{"follow with types, matching type", exchange.Subscription{FollowDays: 30, Types: []string{typ}}, revoked, false, true},
		{"follow with types and events, other kind", exchange.Subscription{FollowDays: 30, Types: []string{typ}, Events: []string{"revoked"}}, issued, false, false},
		{"followed but no follow_days", exchange.Subscription{Events: []string{"revoked"}}, issued, true, false},
	}
	for _, c := range cases {
		if got := c.sub.Wants(c.e, c.followed); got != c.want {
			t.Errorf("%s: Wants = %v, want %v", c.name, got, c.want)
		}
	}
}
