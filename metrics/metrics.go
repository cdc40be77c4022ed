// Package metrics defines every Prometheus metric mailgate exports (docs/metrics.md) on one
// explicit registry and serves /metrics, /healthz and /readyz.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mailgate/mailgate/internal/buildinfo"
	"github.com/mailgate/mailgate/reason"
)

// Metrics holds every metric mailgate exports.
type Metrics struct {
	Registry *prometheus.Registry

	SessionsActive  prometheus.Gauge
	SessionsTotal   prometheus.Counter
	Messages        *prometheus.CounterVec
	Rejections      *prometheus.CounterVec
	TicketsCreated  prometheus.Counter
	IngestDuration  prometheus.Histogram
	OutboundSent    *prometheus.CounterVec
	OutboundFailed  prometheus.Counter
	QueueDepth      prometheus.Gauge
	DeadLetters     prometheus.Gauge
	OldestAge       prometheus.Gauge
	StoreErrors     prometheus.Counter
	Quarantined     prometheus.Counter
	CappedAutoMails prometheus.Counter
	// Service levels: breach mails sent, clocks due within warn_before, business seconds from
	// creation to the first public agent reply (pauses excluded).
	SLABreaches      *prometheus.CounterVec
	SLAAtRisk        *prometheus.GaugeVec
	SLAFirstResponse prometheus.Histogram
	BuildInfo        *prometheus.GaugeVec
}

// Label values created up front so every series exists from the first scrape.
var (
	Outcomes  = []string{"created", "threaded", "rerouted", "duplicate", "rejected", "ignored", "auto"}
	MailKinds = []string{"ack", "notice", "update", "error_reply", "sla_warning", "sla_breach", "digest", "notice_summary"}
	// SLATargets and SLAPriorities pre-create mailgate_sla_breaches_total's series.
	SLATargets    = []string{"first_response", "resolution"}
	SLAPriorities = []string{"low", "normal", "high", "urgent"}
)

// New creates and registers every metric on a new registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{
		Registry: r,
		SessionsActive: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mailgate_smtp_sessions_active",
			Help: "SMTP and LMTP sessions currently open."}),
		SessionsTotal: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailgate_smtp_sessions_total",
			Help: "SMTP and LMTP sessions opened."}),
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailgate_messages_total",
			Help: "Inbound messages by outcome."}, []string{"outcome"}),
		Rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailgate_rejections_total",
			Help: "Inbound messages, recipients and sessions refused, by reason."}, []string{"reason"}),
		TicketsCreated: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailgate_tickets_created_total",
			Help: "Tickets created."}),
		IngestDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mailgate_ingest_duration_seconds",
			Help:    "Time from the end of DATA to the reply.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5}}),
		OutboundSent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailgate_outbound_sent_total",
			Help: "Mails delivered to the relay or the Maildir, by kind."}, []string{"kind"}),
		OutboundFailed: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailgate_outbound_failures_total",
			Help: "Failed delivery attempts of outbound mail."}),
		QueueDepth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mailgate_outbound_queue_depth",
			Help: "Outbound mails waiting to be delivered."}),
		DeadLetters: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mailgate_outbound_dead_letters",
			Help: "Outbound mails given up on."}),
		OldestAge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "mailgate_outbound_oldest_age_seconds",
			Help: "Age of the oldest outbound mail still queued."}),
		StoreErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailgate_store_errors_total",
			Help: "Redis operations that failed."}),
		Quarantined: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailgate_quarantined_total",
			Help: "Inbound messages that could not be parsed and were quarantined."}),
		CappedAutoMails: prometheus.NewCounter(prometheus.CounterOpts{Name: "mailgate_outbound_capped_total",
			Help: "Automatic mails not sent because the recipient reached the hourly cap."}),
		SLABreaches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mailgate_sla_breaches_total",
			Help: "Service-level targets missed (one per ticket and target), by target and priority."}, []string{"target", "priority"}),
		SLAAtRisk: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mailgate_sla_at_risk",
			Help: "Tickets whose target is due within sla.warn_before, by target."}, []string{"target"}),
		SLAFirstResponse: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mailgate_sla_first_response_seconds",
			Help:    "Business seconds from a ticket's creation to its first public agent reply, pauses excluded.",
			Buckets: []float64{60, 300, 900, 1800, 3600, 7200, 14400, 28800, 57600, 115200, 288000}}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "mailgate_build_info",
			Help: "Always 1; the labels say which mailgate is running."}, []string{"version", "commit", "goversion"}),
	}
	for _, c := range []prometheus.Collector{m.SessionsActive, m.SessionsTotal, m.Messages, m.Rejections,
		m.TicketsCreated, m.IngestDuration, m.OutboundSent, m.OutboundFailed, m.QueueDepth, m.DeadLetters,
		m.OldestAge, m.StoreErrors, m.Quarantined, m.CappedAutoMails, m.SLABreaches, m.SLAAtRisk, m.SLAFirstResponse, m.BuildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	for _, o := range Outcomes {
		m.Messages.WithLabelValues(o).Add(0)
	}
	for _, r := range reason.Refusals() {
		m.Rejections.WithLabelValues(string(r)).Add(0)
	}
	for _, k := range MailKinds {
		m.OutboundSent.WithLabelValues(k).Add(0)
	}
	for _, t := range SLATargets {
		m.SLAAtRisk.WithLabelValues(t).Set(0)
		for _, p := range SLAPriorities {
			m.SLABreaches.WithLabelValues(t, p).Add(0)
		}
	}
	bi := buildinfo.Get()
	m.BuildInfo.WithLabelValues(bi.Version, bi.Commit, bi.GoVersion).Set(1)
	return m
}

// Handler serves /metrics, /healthz (the process is up) and /readyz (Redis answers). The
// same readiness is exported as mailgate_ready, so that alert rules need no HTTP probe.
func (m *Metrics) Handler(ready func(context.Context) error) http.Handler {
	_ = m.Registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mailgate_ready",
		Help: "1 when the store answers (as /readyz does), else 0; read at each scrape."}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if ready(ctx) != nil {
			return 0
		}
		return 1
	}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			http.Error(w, "not ready: store unreachable\n", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}
