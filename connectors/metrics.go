package connectors

import "github.com/prometheus/client_golang/prometheus"

// Metrics exposes connector runs to Prometheus, per connector.
type Metrics struct {
	records *prometheus.CounterVec
	runs    *prometheus.CounterVec
	last    *prometheus.GaugeVec
	lag     *prometheus.GaugeVec
}

// NewMetrics registers the connector metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "certhub_connector_records_total",
			Help: "Source records processed, by connector and outcome (issued, revised, lifecycle, unchanged, quarantined)."}, []string{"connector", "outcome"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "certhub_connector_runs_total",
			Help: "Connector runs and pushes, by connector and status."}, []string{"connector", "status"}),
		last: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "certhub_connector_last_success_timestamp_seconds",
			Help: "When each connector last finished a run without error."}, []string{"connector"}),
	}
	m.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "certhub_connector_lag_seconds",
		Help: "How old the newest change applied by each connector's last run was (incremental sources)."}, []string{"connector"})
	reg.MustRegister(m.records, m.runs, m.last, m.lag)
	return m
}

// Observe records a finished run; use it as Engine.OnRun.
func (m *Metrics) Observe(r *Run) {
	for outcome, n := range map[string]int64{"issued": r.Issued, "revised": r.Revised, "lifecycle": r.Lifecycle,
		"unchanged": r.Unchanged, "quarantined": r.Quarantined} {
		m.records.WithLabelValues(r.Connector, outcome).Add(float64(n))
	}
	m.runs.WithLabelValues(r.Connector, r.Status).Inc()
	m.lag.WithLabelValues(r.Connector).Set(r.LagSeconds)
	if r.Status == "succeeded" && r.FinishedAt != nil {
		m.last.WithLabelValues(r.Connector).Set(float64(r.FinishedAt.Unix()))
	}
}
