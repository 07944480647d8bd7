package httpapi

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/certhub/certhub/exchange"
	"github.com/certhub/certhub/internal/errs"
)

func (s *Server) webhooks(w http.ResponseWriter, r *http.Request) bool {
	if s.Webhooks == nil {
		s.fail(w, r, errs.E(errs.Unavailable, "webhooks are not configured"))
		return false
	}
	return true
}

func (s *Server) createSubscription(w http.ResponseWriter, r *http.Request) {
	if !s.webhooks(w, r) {
		return
	}
	var req exchange.SubscriptionRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	sub, err := s.Webhooks.Subscribe(r.Context(), principalOf(r.Context()), &req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/subscriptions/"+sub.ID)
	s.writeJSON(w, http.StatusCreated, sub)
}

func (s *Server) listSubscriptions(w http.ResponseWriter, r *http.Request) {
	if !s.webhooks(w, r) {
		return
	}
	p := principalOf(r.Context())
	consumer := r.URL.Query().Get("consumer")
	if p.Role == exchange.RoleConsumer {
		consumer = p.Consumer
	}
	subs, err := s.Webhooks.Store.ListSubscriptions(r.Context(), consumer)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"subscriptions": nonNil(subs)})
}

func (s *Server) getSubscription(w http.ResponseWriter, r *http.Request) {
	if !s.webhooks(w, r) {
		return
	}
	sub, err := s.Webhooks.Owned(r.Context(), principalOf(r.Context()), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, sub)
}

func (s *Server) deleteSubscription(w http.ResponseWriter, r *http.Request) {
	if !s.webhooks(w, r) {
		return
	}
	if err := s.Webhooks.Unsubscribe(r.Context(), principalOf(r.Context()), chi.URLParam(r, "id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// listDeliveries is the delivery log: a subscription's deliveries, newest
// first, each with its attempts.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	if !s.webhooks(w, r) {
		return
	}
	sub, err := s.Webhooks.Owned(r.Context(), principalOf(r.Context()), chi.URLParam(r, "id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := r.URL.Query().Get("status")
	switch status {
	case "", exchange.DeliveryPending, exchange.DeliveryDelivered, exchange.DeliveryDead:
	default:
		s.fail(w, r, errs.Field("status", "must be pending, delivered or dead"))
		return
	}
	ds, err := s.Webhooks.Store.ListDeliveries(r.Context(), sub.ID, status, 200)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"deliveries": nonNil(ds)})
}

func (s *Server) redeliver(w http.ResponseWriter, r *http.Request) {
	if !s.webhooks(w, r) {
		return
	}
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		s.fail(w, r, errs.E(errs.NotFound, "no delivery %q", chi.URLParam(r, "id")))
		return
	}
	if err := s.Webhooks.Redeliver(r.Context(), principalOf(r.Context()), id); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}
