package reten

import "github.com/reten/reten-relay/schema"

// APIKey is a Reten integration API key (rtn_sk_...): a schema.Secret, which never prints.
type APIKey = schema.Secret

// NewAPIKey wraps key.
func NewAPIKey(key string) APIKey { return schema.NewSecret(key) }
