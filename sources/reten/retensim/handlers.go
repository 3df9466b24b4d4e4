package retensim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Handler serves the simulated API.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(string(EndpointListTasks), s.endpoint(EndpointListTasks, s.listTasks))
	mux.HandleFunc(string(EndpointResultTypes), s.endpoint(EndpointResultTypes, s.listResultTypes))
	mux.HandleFunc(string(EndpointSubmit), s.endpoint(EndpointSubmit, s.submitResult))
	mux.HandleFunc(string(EndpointAPIKeys), s.endpoint(EndpointAPIKeys, s.listAPIKeys))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, "other", http.StatusNotFound, fmt.Sprintf("Cannot %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// endpoint counts the request and applies latency and faults before the real handler.
func (s *Sim) endpoint(ep Endpoint, h func(http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.counter(&s.requests, ep).Add(1)
		s.mu.Lock()
		observe := s.onRequest
		s.mu.Unlock()
		if observe != nil {
			observe(ep, r)
		}
		f, latency := s.nextFault(ep)
		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if s.apply(ep, f, w, r) {
			return
		}
		h(w, r)
	}
}

func (s *Sim) count(ep Endpoint, status int) {
	s.counter(&s.responses, fmt.Sprintf("%s %d", ep, status)).Add(1)
}

// writeError answers with NestJS's error body {statusCode, message, error}.
func (s *Sim) writeError(w http.ResponseWriter, ep Endpoint, status int, message any) {
	s.count(ep, status)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"statusCode": status, "message": message, "error": http.StatusText(status)})
}

func (s *Sim) writeJSON(w http.ResponseWriter, ep Endpoint, status int, v any) {
	s.count(ep, status)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// authorize checks the x-api-key for perm and answers 401/403 itself when it fails.
func (s *Sim) authorize(w http.ResponseWriter, r *http.Request, ep Endpoint, perm string) (*apiKey, bool) {
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") && r.Header.Get("x-api-key") == "" {
		s.writeError(w, ep, http.StatusUnauthorized, "JWT authentication is not supported on integration endpoints; use x-api-key")
		return nil, false
	}
	s.mu.Lock()
	status, msg, k := s.keyProblem(r.Header.Get("x-api-key"), perm)
	s.mu.Unlock()
	if status != 0 {
		s.writeError(w, ep, status, msg)
		return nil, false
	}
	return k, true
}

func (s *Sim) listTasks(w http.ResponseWriter, r *http.Request) {
	ep := EndpointListTasks
	key, ok := s.authorize(w, r, ep, PermViewActivities)
	if !ok {
		return
	}
	q := r.URL.Query()
	var problems []string
	page := intParam(q.Get("page"), 1, &problems, "page must be a positive integer")
	sizeParam := q.Get("per_page")
	if sizeParam == "" {
		sizeParam = q.Get("limit")
	}
	perPage := intParam(sizeParam, 20, &problems, "per_page must be a positive integer")
	if perPage > 100 {
		problems = append(problems, "per_page must not be greater than 100")
	}
	for _, p := range []string{"scheduled_from", "scheduled_to"} {
		if v := q.Get(p); v != "" {
			if _, err := parseDate(v); err != nil {
				problems = append(problems, p+" must be a valid ISO 8601 date string")
			}
		}
	}
	if len(problems) > 0 {
		s.writeError(w, ep, http.StatusBadRequest, problems)
		return
	}
	s.mu.Lock()
	hostile := s.hostile
	s.mu.Unlock()
	if s.hostileAnswer(w, r, hostile) {
		return
	}
	if hostile.IgnorePage {
		page = 1
	}
	if hostile.PageSize > 0 {
		perPage = hostile.PageSize
	}
	s.mu.Lock()
	if status, ok := s.failPages[page]; ok {
		s.mu.Unlock()
		s.writeError(w, ep, status, fmt.Sprintf("page %d failed (injected)", page))
		return
	}
	total, window := s.pageLocked(key.tenant, q, (page-1)*perPage, perPage)
	data := make([]Task, len(window))
	for i, t := range window {
		data[i] = *t
	}
	hook := s.onPage
	s.mu.Unlock()
	if hook != nil {
		hook(page)
	}
	data, meta := hostilePage(hostile, page, perPage, total, data, func(page int) []Task { return s.endlessPage(page, perPage) })
	body := map[string]any{"data": data}
	if meta != nil {
		body["meta"] = meta
	}
	s.writeJSON(w, ep, http.StatusOK, body)
}

func intParam(v string, def int, problems *[]string, msg string) int {
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		*problems = append(*problems, msg)
		return def
	}
	return n
}

func parseDate(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", v)
}

func (s *Sim) listResultTypes(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, EndpointResultTypes, PermViewActivities); !ok {
		return
	}
	s.mu.Lock()
	types := append([]any(nil), toAny(s.resultTypes)...)
	s.mu.Unlock()
	s.writeJSON(w, EndpointResultTypes, http.StatusOK, types)
}

func toAny[T any](in []T) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v
	}
	return out
}

// listAPIKeys is GET /api/api-keys: JWT + x-tenant-id, MANAGE_API_KEYS, newest first.
func (s *Sim) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	ep := EndpointAPIKeys
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	user := s.jwts[token]
	s.mu.Unlock()
	switch {
	case !ok || user == nil:
		s.writeError(w, ep, http.StatusUnauthorized, "Unauthorized")
		return
	case r.Header.Get("x-tenant-id") == "":
		s.writeError(w, ep, http.StatusBadRequest, "No active tenant context")
		return
	case r.Header.Get("x-tenant-id") != user.tenant:
		s.writeError(w, ep, http.StatusForbidden, "Insufficient permissions")
		return
	case !user.perms[PermManageAPIKeys]:
		s.writeError(w, ep, http.StatusForbidden, "Insufficient permissions")
		return
	}
	s.mu.Lock()
	var keys []*apiKey
	for _, k := range s.keys {
		if k.tenant == user.tenant {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].created.After(keys[j].created) })
	out := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		perms := make([]string, 0, len(k.perms))
		for p := range k.perms {
			perms = append(perms, strings.ToLower(p))
		}
		sort.Strings(perms)
		out = append(out, map[string]any{
			"id": "key-" + k.key[len(k.key)-8:], "name": k.name, "keyPrefix": k.key[:min(len(k.key), 15)],
			"userId": "user-1", "tenantId": k.tenant, "isActive": k.revoked == nil, "permissions": perms,
			"expiresAt": isoPtr(k.expires), "lastUsedAt": isoPtr(k.used), "createdAt": iso(k.created), "revokedAt": isoPtr(k.revoked),
		})
	}
	s.mu.Unlock()
	s.writeJSON(w, ep, http.StatusOK, out)
}

func isoPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return iso(*t)
}

// readBody reads at most 1 MiB, as a body-parser limit would.
func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, 1<<20))
}
