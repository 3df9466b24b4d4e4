package retensim

import (
	"net/http"
	"strings"
	"time"
)

// Endpoint names an endpoint for fault injection and counters.
type Endpoint string

// The simulated endpoints.
const (
	EndpointListTasks   Endpoint = "GET /api/integration/activities/tasks"
	EndpointResultTypes Endpoint = "GET /api/integration/task-result-type-configs"
	EndpointSubmit      Endpoint = "POST /api/integration/activity-results/tasks"
	EndpointAPIKeys     Endpoint = "GET /api/api-keys"
)

type faultKind int

const (
	faultNone faultKind = iota
	faultStatus
	faultDrop
	faultHang
)

// Fault is what one request gets instead of (or before) the normal answer.
type Fault struct {
	kind        faultKind
	status      int
	contentType string
	body        string
	header      http.Header
	delay       time.Duration
}

// FaultNone serves the request normally (a gap in a Script).
var FaultNone = Fault{}

// FaultDrop closes the connection without answering.
var FaultDrop = Fault{kind: faultDrop}

// FaultStatus answers with status and a NestJS error body.
func FaultStatus(status int) Fault { return Fault{kind: faultStatus, status: status} }

// FaultBody answers with status, content type and body as given: an HTML error page from
// a proxy, truncated JSON, ...
func FaultBody(status int, contentType, body string) Fault {
	return Fault{kind: faultStatus, status: status, contentType: contentType, body: body}
}

// Fault429 answers 429 with the Retry-After header as given (seconds, or an HTTP date).
func Fault429(retryAfter string) Fault {
	return Fault{kind: faultStatus, status: http.StatusTooManyRequests, header: http.Header{"Retry-After": {retryAfter}}}
}

// FaultHang waits d (or until the client gives up), then serves the request normally.
func FaultHang(d time.Duration) Fault { return Fault{kind: faultHang, delay: d} }

type rateFault struct {
	ratio float64
	mix   []Fault
}

// Script queues faults for the next requests of an endpoint, one per request.
func (s *Sim) Script(ep Endpoint, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[ep] = append(s.faults[ep], faults...)
}

// SetFailureRate makes a share of an endpoint's requests fail with one of mix, chosen at
// random (FaultStatus(503) when mix is empty). 0 turns it off.
func (s *Sim) SetFailureRate(ep Endpoint, ratio float64, mix ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(mix) == 0 {
		mix = []Fault{FaultStatus(http.StatusServiceUnavailable)}
	}
	s.rates[ep] = rateFault{ratio: ratio, mix: mix}
}

// FailPage makes every request for that page of the task list answer status, until
// ClearFaults.
func (s *Sim) FailPage(page, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failPages[page] = status
}

// OnPageServed calls f after a page of the task list was computed and before it is sent
// (outside the simulator's lock, so f may change tasks): a test makes items shift between
// pages while a listing is in progress. nil removes it.
func (s *Sim) OnPageServed(f func(page int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onPage = f
}

// OnRequest calls f with every request as it arrives, before latency and faults (outside
// the simulator's lock): a test sees which client asked what, e.g. by User-Agent. nil
// removes it.
func (s *Sim) OnRequest(f func(ep Endpoint, r *http.Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRequest = f
}

// SetLatency delays every answer by d.
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// ClearFaults removes scripted faults, failure rates and failing pages.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[Endpoint][]Fault{}
	s.rates = map[Endpoint]rateFault{}
	s.failPages = map[int]int{}
}

// nextFault takes the fault for one request of ep.
func (s *Sim) nextFault(ep Endpoint) (Fault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.faults[ep]; len(q) > 0 {
		s.faults[ep] = q[1:]
		return q[0], s.latency
	}
	if r, ok := s.rates[ep]; ok && r.ratio > 0 && s.rnd.Float64() < r.ratio {
		return r.mix[s.rnd.IntN(len(r.mix))], s.latency
	}
	return FaultNone, s.latency
}

// apply serves a fault; it reports whether the request was answered (or dropped).
func (s *Sim) apply(ep Endpoint, f Fault, w http.ResponseWriter, r *http.Request) bool {
	switch f.kind {
	case faultDrop:
		s.counter(&s.responses, string(ep)+" 0").Add(1)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	case faultHang:
		t := time.NewTimer(f.delay)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return true
		case <-t.C:
		}
		return false
	case faultStatus:
		for k, v := range f.header {
			w.Header()[k] = v
		}
		if f.contentType != "" {
			w.Header().Set("Content-Type", f.contentType)
			s.count(ep, f.status)
			w.WriteHeader(f.status)
			_, _ = w.Write([]byte(f.body))
			return true
		}
		s.writeError(w, ep, f.status, strings.ToLower(http.StatusText(f.status))+" (injected)")
		return true
	}
	return false
}
