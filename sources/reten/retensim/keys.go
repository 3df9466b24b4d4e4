package retensim

import (
	"strings"
	"time"
)

// Permissions, compared case-insensitively (the docs write both VIEW_ACTIVITIES and
// view_activities).
const (
	PermViewActivities       = "VIEW_ACTIVITIES"
	PermSubmitActivityResult = "SUBMIT_ACTIVITY_RESULT"
	PermManageAPIKeys        = "MANAGE_API_KEYS"
)

type apiKey struct {
	key     string
	name    string
	tenant  string
	perms   map[string]bool
	created time.Time
	expires *time.Time
	revoked *time.Time
	used    *time.Time
}

func permSet(perms ...string) map[string]bool {
	m := make(map[string]bool, len(perms))
	for _, p := range perms {
		m[strings.ToUpper(p)] = true
	}
	return m
}

// AddKey adds an integration API key of a tenant with the given permissions.
func (s *Sim) AddKey(key, tenant string, perms ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[key] = &apiKey{key: key, name: "key " + key[:min(len(key), 15)], tenant: tenant, perms: permSet(perms...), created: s.now()}
}

// RevokeKey revokes a key: it answers 401 from now on.
func (s *Sim) RevokeKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[key]; k != nil {
		now := s.now()
		k.revoked = &now
	}
}

// ExpireKey makes a key expired: it answers 401 from now on.
func (s *Sim) ExpireKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[key]; k != nil {
		past := s.now().Add(-time.Minute)
		k.expires = &past
	}
}

// RestoreKey undoes RevokeKey and ExpireKey.
func (s *Sim) RestoreKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[key]; k != nil {
		k.revoked, k.expires = nil, nil
	}
}

// SetPermissions replaces a key's permissions.
func (s *Sim) SetPermissions(key string, perms ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.keys[key]; k != nil {
		k.perms = permSet(perms...)
	}
}

// AddJWT adds a user token for the JWT endpoints (GET /api/api-keys).
func (s *Sim) AddJWT(token, tenant string, perms ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwts[token] = &apiKey{key: token, tenant: tenant, perms: permSet(perms...), created: s.now()}
}

// keyProblem says why a key may not call an endpoint that needs perm: 401 with a message,
// 403, or 0 when it may.
func (s *Sim) keyProblem(key, perm string) (int, string, *apiKey) {
	k := s.keys[key]
	switch {
	case key == "" || k == nil:
		return 401, "API key missing or invalid", nil
	case k.revoked != nil:
		return 401, "API key has been revoked", nil
	case k.expires != nil && !s.now().Before(*k.expires):
		return 401, "API key has expired", nil
	case !k.perms[perm]:
		return 403, "Insufficient permissions", nil
	}
	now := s.now()
	k.used = &now
	return 0, "", k
}
