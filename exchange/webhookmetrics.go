package exchange

import "github.com/prometheus/client_golang/prometheus"

// WebhookMetrics exposes webhook delivery attempts to Prometheus.
type WebhookMetrics struct {
	attempts *prometheus.CounterVec
}

// NewWebhookMetrics registers the webhook metrics.
func NewWebhookMetrics(reg prometheus.Registerer) *WebhookMetrics {
	m := &WebhookMetrics{attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "certhub_webhook_attempts_total",
		Help: "Webhook delivery attempts, by outcome (delivered; failed, to be retried; dead, after the last attempt)."}, []string{"outcome"})}
	// The series exist before the first attempt, so a failure ratio and a
	// dead-letter alert work from the start.
	for _, o := range []string{"delivered", "failed", "dead"} {
		m.attempts.WithLabelValues(o)
	}
	reg.MustRegister(m.attempts)
	return m
}

// Observe records one attempt's outcome; use it as Webhooks.OnAttempt.
func (m *WebhookMetrics) Observe(outcome string) { m.attempts.WithLabelValues(outcome).Inc() }
