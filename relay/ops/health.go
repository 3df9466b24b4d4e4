// Package ops is what operators look at: component health for /healthz and /readyz, the
// Prometheus metrics, and the HTTP handler that serves them.
package ops

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Health is a registry of components and their readiness. Each pipeline part registers a
// component and reports its state; the process is ready only when every component is.
// The zero value is not usable; use NewHealth. Safe for concurrent use.
type Health struct {
	mu         sync.Mutex
	components map[string]componentState
	info       map[string]string
	now        func() time.Time
}

type componentState struct {
	ready  bool
	reason string
	since  time.Time
}

// NewHealth returns an empty registry.
func NewHealth() *Health {
	return &Health{components: map[string]componentState{}, info: map[string]string{}, now: time.Now}
}

// SetInfo records a fact /readyz shows next to the components, such as which replica
// holds the poller lease; an empty value removes it. It has no say in readiness.
func (h *Health) SetInfo(key, value string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if value == "" {
		delete(h.info, key)
		return
	}
	h.info[key] = value
}

// Register adds a component that starts not ready with reason, e.g. "starting".
func (h *Health) Register(component, reason string) {
	h.Set(component, false, reason)
}

// Set records a component's state; reason says why it is not ready (ignored when ready).
// It reports whether the state changed, so callers can log once per change.
func (h *Health) Set(component string, ready bool, reason string) bool {
	if ready {
		reason = ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old, ok := h.components[component]
	if ok && old.ready == ready && old.reason == reason {
		return false
	}
	h.components[component] = componentState{ready: ready, reason: reason, since: h.now()}
	return true
}

// ComponentStatus is one component in a Status report.
type ComponentStatus struct {
	Ready  bool      `json:"ready"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
}

// Status is the body of /readyz.
type Status struct {
	Ready      bool                       `json:"ready"`
	Components map[string]ComponentStatus `json:"components"`
	// Failing names the components that are not ready, sorted.
	Failing []string `json:"failing,omitempty"`
	// Info holds facts set with SetInfo, e.g. "replica" and "lease_holder".
	Info map[string]string `json:"info,omitempty"`
}

// Status reports every component.
func (h *Health) Status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Status{Ready: true, Components: make(map[string]ComponentStatus, len(h.components))}
	for name, c := range h.components {
		s.Components[name] = ComponentStatus{Ready: c.ready, Reason: c.reason, Since: c.since}
		if !c.ready {
			s.Ready = false
			s.Failing = append(s.Failing, name)
		}
	}
	sort.Strings(s.Failing)
	if len(h.info) > 0 {
		s.Info = make(map[string]string, len(h.info))
		for k, v := range h.info {
			s.Info[k] = v
		}
	}
	return s
}

// Ready reports whether every registered component is ready.
func (h *Health) Ready() bool { return h.Status().Ready }

// ReadyzHandler answers 200 when ready and 503 otherwise, with Status as JSON.
func (h *Health) ReadyzHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s := h.Status()
		w.Header().Set("Content-Type", "application/json")
		if !s.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(s)
	})
}
