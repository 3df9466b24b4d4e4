package config

import "github.com/reten/reten-relay/schema"

// Secret is a credential in the config: it never prints (see schema.Secret).
type Secret = schema.Secret

// NewSecret wraps s.
func NewSecret(s string) Secret { return schema.NewSecret(s) }
