package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// NATSTLSConfig is nats.tls: how the relay verifies the NATS server and, with Cert and
// Key, proves itself to it (mutual TLS). Any field set turns TLS on.
type NATSTLSConfig struct {
	// CA is a PEM file of the CAs that sign the server's certificate. Default: "" (the
	// system's roots).
	CA string `yaml:"ca"`
	// Cert is the client certificate (PEM), for servers that verify clients. Default: "".
	Cert string `yaml:"cert"`
	// Key is the client certificate's private key (PEM). Default: "".
	Key string `yaml:"key"`
	// ServerName is the name the server certificate must carry. Default: "" (the URL's host).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any server certificate. Only for a test bench: it allows
	// a man in the middle. Default: false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// KafkaTLSConfig is kafka.tls. Its fields mean what NATSTLSConfig's do; Enabled turns TLS
// on (Kafka listeners speak either plaintext or TLS, so it is never guessed).
type KafkaTLSConfig struct {
	// Enabled connects to the brokers with TLS. Default: false.
	Enabled bool `yaml:"enabled"`
	// CA is a PEM file of the CAs that sign the brokers' certificates. Default: "" (system roots).
	CA string `yaml:"ca"`
	// Cert is the client certificate (PEM) for brokers that verify clients. Default: "".
	Cert string `yaml:"cert"`
	// Key is the client certificate's private key (PEM). Default: "".
	Key string `yaml:"key"`
	// ServerName is the name the broker certificates must carry. Default: "" (the broker's host).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any broker certificate (test benches only). Default: false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// KafkaSASLConfig is kafka.sasl: the brokers' SASL authentication.
type KafkaSASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; "" turns SASL off. Default: "".
	Mechanism string `yaml:"mechanism"`
	// Username is the SASL user. Required with a mechanism.
	Username string `yaml:"username"`
	// Password is the SASL password, a Secret. Required with a mechanism.
	Password Secret `yaml:"password"`
}

// RetenTLSConfig is reten.tls: extra trust for a TLS-intercepting corporate proxy.
type RetenTLSConfig struct {
	// CA is a PEM file of CAs trusted in addition to the system's roots. Default: "".
	CA string `yaml:"ca"`
}

// SASL mechanisms of kafka.sasl.mechanism.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Enabled reports whether any nats.tls key is set.
func (t NATSTLSConfig) Enabled() bool { return t != NATSTLSConfig{} }

// ClientConfig builds the client *tls.Config of nats.tls, or nil when TLS is not set.
func (t NATSTLSConfig) ClientConfig() (*tls.Config, error) {
	if !t.Enabled() {
		return nil, nil
	}
	return clientTLS(t.CA, t.Cert, t.Key, t.ServerName, t.InsecureSkipVerify, false)
}

// ClientConfig builds the client *tls.Config of kafka.tls, or nil when it is not enabled.
func (t KafkaTLSConfig) ClientConfig() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	return clientTLS(t.CA, t.Cert, t.Key, t.ServerName, t.InsecureSkipVerify, false)
}

// ClientConfig builds the *tls.Config for Reten: the system roots plus reten.tls.ca, or
// nil when no CA is set.
func (t RetenTLSConfig) ClientConfig() (*tls.Config, error) {
	if t.CA == "" {
		return nil, nil
	}
	return clientTLS(t.CA, "", "", "", false, true)
}

// NATSAuth names the NATS authentication method set: "creds", "nkey", "user", "token",
// or "" for none.
func (n NATSConfig) NATSAuth() string {
	methods := n.authMethods()
	if len(methods) == 0 {
		return ""
	}
	return methods[0]
}

func (n NATSConfig) authMethods() []string {
	var m []string
	if n.Creds != "" {
		m = append(m, "creds")
	}
	if !n.NKeySeed.IsZero() {
		m = append(m, "nkey")
	}
	if n.User != "" || !n.Password.IsZero() {
		m = append(m, "user")
	}
	if !n.Token.IsZero() {
		m = append(m, "token")
	}
	return m
}

// CredsUser reads the user JWT of nats.creds and returns the user's name and public key,
// so that `check` can say whom it authenticates as.
func (n NATSConfig) CredsUser() (name, pub string, err error) {
	data, err := readFile(n.Creds)
	if err != nil {
		return "", "", err
	}
	token, _ := nkeys.ParseDecoratedJWT(data)
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		// The library's message may quote the token: say only what is wrong.
		return "", "", fmt.Errorf("%s does not hold a NATS user JWT", n.Creds)
	}
	if _, err := nkeys.ParseDecoratedUserNKey(data); err != nil {
		return "", "", fmt.Errorf("%s does not hold a NATS user nkey seed", n.Creds)
	}
	return uc.Name, uc.Subject, nil
}

// NKeyPublic returns the public key of nats.nkey_seed.
func (n NATSConfig) NKeyPublic() (string, error) {
	kp, err := nkeys.FromSeed([]byte(n.NKeySeed.Reveal()))
	if err != nil {
		return "", errors.New("is not a NATS nkey seed (it starts with SU)")
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return "", errors.New("is not a NATS user nkey seed (it starts with SU)")
	}
	return pub, nil
}

// validateSecure checks the secure-connection keys (design §11). File keys are read here,
// so a missing or unparsable file is a config error with its line.
func (c *Config) validateSecure(v *validator) {
	n := c.NATS
	if methods := n.authMethods(); len(methods) > 1 {
		v.add("nats."+authKey(methods[1]), "only one NATS authentication method may be set, but %s is set too", authKey(methods[0]))
	}
	if n.Embedded() && (len(n.authMethods()) > 0 || n.TLS.Enabled()) {
		v.add("nats.url", `is "embedded": nats.tls and NATS credentials apply to a server the relay connects to`)
	}
	for part := range strings.SplitSeq(n.URL, ",") {
		if u, err := url.Parse(strings.TrimSpace(part)); err == nil && u.User != nil && natsURL(n.URL) == nil {
			// A password in the URL would be printed wherever the URL is; it is no Secret.
			v.add("nats.url", "must not hold credentials; use nats.user and nats.password, or nats.token")
			break
		}
	}
	if n.User != "" && n.Password.IsZero() {
		v.add("nats.password", "is required with nats.user")
	}
	if n.User == "" && !n.Password.IsZero() {
		v.add("nats.user", "is required with nats.password")
	}
	if n.Creds != "" {
		if _, _, err := n.CredsUser(); err != nil {
			v.add("nats.creds", "%s", err)
		}
	}
	if !n.NKeySeed.IsZero() {
		if _, err := n.NKeyPublic(); err != nil {
			v.add("nats.nkey_seed", "%s", err)
		}
	}
	_, err := n.TLS.ClientConfig()
	v.tlsError("nats.tls", err)

	k := c.Kafka
	t := k.TLS
	if !t.Enabled && (t.CA != "" || t.Cert != "" || t.Key != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		v.add("kafka.tls.enabled", "must be true when other kafka.tls keys are set")
	}
	_, err = t.ClientConfig()
	v.tlsError("kafka.tls", err)
	s := k.SASL
	if s.Mechanism == "" {
		if s.Username != "" || !s.Password.IsZero() {
			v.add("kafka.sasl.mechanism", "is required with kafka.sasl.username and password: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
		}
	} else if v.oneOf("kafka.sasl.mechanism", s.Mechanism, SASLPlain, SASLScramSHA256, SASLScramSHA512) {
		if s.Username == "" {
			v.add("kafka.sasl.username", "is required with kafka.sasl.mechanism %s", s.Mechanism)
		}
		if s.Password.IsZero() {
			v.add("kafka.sasl.password", "is required with kafka.sasl.mechanism %s", s.Mechanism)
		}
	}
	_, err = c.Reten.TLS.ClientConfig()
	v.tlsError("reten.tls", err)
}

// tlsError reports a ClientConfig error under the key whose file is wrong.
func (v *validator) tlsError(section string, err error) {
	var fe *fileError
	switch {
	case err == nil:
	case errors.As(err, &fe):
		v.add(section+"."+fe.key, "%s", fe.err)
	default:
		v.add(section, "%s", err)
	}
}

func authKey(method string) string {
	switch method {
	case "nkey":
		return "nkey_seed"
	case "user":
		return "user"
	}
	return method
}

// secureWarnings lists secure-connection settings that load but weaken security.
func (c *Config) secureWarnings(v *validator) {
	if c.NATS.TLS.InsecureSkipVerify {
		v.add("nats.tls.insecure_skip_verify", "is true: the server's certificate is not checked, so anyone in between can read and change the traffic")
	}
	if c.Kafka.TLS.Enabled && c.Kafka.TLS.InsecureSkipVerify {
		v.add("kafka.tls.insecure_skip_verify", "is true: the brokers' certificates are not checked, so anyone in between can read and change the traffic")
	}
	if c.Kafka.SASL.Mechanism == SASLPlain && !c.Kafka.TLS.Enabled {
		v.add("kafka.sasl.mechanism", "PLAIN without kafka.tls sends the password in clear text")
	}
	if !c.NATS.Embedded() && !c.NATS.TLS.Enabled() && !strings.Contains(c.NATS.URL, "tls://") && !strings.Contains(c.NATS.URL, "wss://") &&
		(c.NATS.User != "" || !c.NATS.Token.IsZero()) {
		v.add("nats.url", "sends the NATS password or token without TLS unless the server requires TLS; set nats.tls or use tls://")
	}
}
