package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// newConsumer registers the department system the soak looks up and
// subscribes as, with the admin token: a purpose of its own and an
// approved agreement over the food permit whose rate allows the soak's
// lookups (the demo consumer's agreements allow 600 calls a minute).
// It returns the system's API key.
func (l *load) newConsumer(ctx context.Context, base string) (string, error) {
	post := func(path string, in any, out any) error {
		body, _ := json.Marshal(in)
		b, err := l.call(ctx, http.MethodPost, base+path, l.admin, nil, body)
		if err != nil {
			return fmt.Errorf("POST %s: %w", path, err)
		}
		if out != nil {
			return json.Unmarshal(b, out)
		}
		return nil
	}
	l.purpose = "SOAK-" + l.prefix
	if err := post("/api/v1/purposes", map[string]string{"code": l.purpose, "name": "soak test", "kind": "service_item"}, nil); err != nil {
		return "", err
	}
	var c, a struct{ ID string }
	if err := post("/api/v1/consumers", map[string]string{"name": "soak " + l.prefix, "uscc": "91350100M000100Y43"}, &c); err != nil {
		return "", err
	}
	today := time.Now()
	if err := post("/api/v1/agreements", map[string]any{
		"consumer": c.ID, "purposes": []string{l.purpose}, "rate_per_minute": 600000,
		"grants": []map[string]any{{"type": foodType, "fields": []string{"holder_name", "permit_no", "legal_representative",
			"operator_type", "business_items", "address"}}},
		"valid_from": today.AddDate(0, 0, -1).Format(time.DateOnly), "valid_until": today.AddDate(0, 0, 30).Format(time.DateOnly),
	}, &a); err != nil {
		return "", err
	}
	if err := post("/api/v1/agreements/"+a.ID+"/approve", map[string]any{}, nil); err != nil {
		return "", err
	}
	var k struct{ Token string }
	if err := post("/api/v1/consumers/"+c.ID+"/keys", map[string]string{"name": "soak"}, &k); err != nil {
		return "", err
	}
	if k.Token == "" {
		return "", fmt.Errorf("no API key for consumer %s", c.ID)
	}
	return k.Token, nil
}
