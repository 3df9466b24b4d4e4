package ops

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the relay's Prometheus metrics, all named reten_relay_*. Each Metrics has its
// own registry (no global state), so tests and several relays in one process do not clash.
type Metrics struct {
	Registry *prometheus.Registry

	// Tasks pipeline.
	PollCycles       *prometheus.CounterVec // result: complete, incomplete, failed
	LastCompletePoll prometheus.Gauge       // unix seconds
	PagesPerCycle    prometheus.Gauge
	TasksPerCycle    prometheus.Gauge
	Events           *prometheus.CounterVec // op, sink
	Unrouted         prometheus.Counter
	PublishSeconds   *prometheus.HistogramVec // sink
	OutboxPending    prometheus.Gauge
	DeletesHeld      prometheus.Gauge
	// ListingPagesDone and ListingPagesTotal follow the running (or last) listing.
	ListingPagesDone  prometheus.Gauge
	ListingPagesTotal prometheus.Gauge
	// LeaseHolder is 1 while this replica holds the poller lease (label replica), else 0.
	LeaseHolder *prometheus.GaugeVec
	// LeaseAcquired counts the terms this replica started as the poller.
	LeaseAcquired prometheus.Counter

	// Results pipeline.
	Results       *prometheus.CounterVec // outcome: accepted, already_recorded, dead_lettered
	Retries       *prometheus.CounterVec // class: transient, auth
	DeadLetters   *prometheus.CounterVec // reason
	SubmitSeconds prometheus.Histogram
}

// NewMetrics creates and registers every metric, plus the Go and process collectors.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{Registry: r}
	m.PollCycles = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reten_relay_poll_cycles_total", Help: "Poll cycles by result (complete, incomplete, failed)."}, []string{"result"})
	m.LastCompletePoll = prometheus.NewGauge(prometheus.GaugeOpts{Name: "reten_relay_last_complete_poll_timestamp_seconds", Help: "When the last complete listing finished."})
	m.PagesPerCycle = prometheus.NewGauge(prometheus.GaugeOpts{Name: "reten_relay_poll_pages", Help: "Pages fetched by the last cycle."})
	m.TasksPerCycle = prometheus.NewGauge(prometheus.GaugeOpts{Name: "reten_relay_poll_tasks", Help: "Tasks listed by the last cycle."})
	m.Events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reten_relay_events_published_total", Help: "Task events confirmed by a broker, by op and sink."}, []string{"op", "sink"})
	m.Unrouted = prometheus.NewCounter(prometheus.CounterOpts{Name: "reten_relay_events_unrouted_total", Help: "Task events no route matched."})
	m.PublishSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "reten_relay_publish_seconds", Help: "Time to publish one batch and get every confirmation.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)}, []string{"sink"})
	m.OutboxPending = prometheus.NewGauge(prometheus.GaugeOpts{Name: "reten_relay_outbox_pending", Help: "Messages written to the outbox and not yet confirmed by their sink (every sink counted)."})
	m.DeletesHeld = prometheus.NewGauge(prometheus.GaugeOpts{Name: "reten_relay_deletes_held", Help: "Deletes held back by the mass-delete guard."})
	m.ListingPagesDone = prometheus.NewGauge(prometheus.GaugeOpts{Name: "reten_relay_listing_pages_done", Help: "Pages the running (or last) listing has fetched."})
	m.ListingPagesTotal = prometheus.NewGauge(prometheus.GaugeOpts{Name: "reten_relay_listing_pages_total", Help: "Pages the running (or last) listing expects."})
	m.LeaseHolder = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "reten_relay_lease_holder", Help: "1 while this replica holds the poller lease of a nats-kv state (it polls), 0 while it stands by."}, []string{"replica"})
	m.LeaseAcquired = prometheus.NewCounter(prometheus.CounterOpts{Name: "reten_relay_lease_acquired_total", Help: "Times this replica took the poller lease."})
	m.Results = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reten_relay_results_total", Help: "Result messages settled, by outcome."}, []string{"outcome"})
	m.Retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reten_relay_result_retries_total", Help: "Result submissions retried, by failure class."}, []string{"class"})
	m.DeadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reten_relay_dead_letters_total", Help: "Result messages dead-lettered, by reason."}, []string{"reason"})
	m.SubmitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "reten_relay_submit_seconds", Help: "Duration of one POST of a result to Reten.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)})
	for _, c := range []prometheus.Collector{m.PollCycles, m.LastCompletePoll, m.PagesPerCycle, m.TasksPerCycle, m.Events, m.Unrouted, m.PublishSeconds, m.OutboxPending, m.DeletesHeld, m.ListingPagesDone, m.ListingPagesTotal, m.LeaseHolder, m.LeaseAcquired, m.Results, m.Retries, m.DeadLetters, m.SubmitSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}
