package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/sinks/kafkasink"
)

// security is what design §11's keys turn into: the TLS settings and credentials of every
// connection, built once from the (already validated) config.
type security struct {
	natsOpts  []nats.Option
	kafkaTLS  *tls.Config
	kafkaSASL sasl.Mechanism
	retenTLS  *tls.Config
	// kafkaUser and kafkaMech say whom the relay authenticates as, for messages.
	kafkaUser, kafkaMech string
}

// newSecurity builds the connection settings of cfg. The files were checked by
// config.Validate; an error here means one changed since.
func newSecurity(cfg *config.Config) (*security, error) {
	s := &security{}
	var err error
	if s.natsOpts, err = natsSecurity(cfg.NATS); err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	if s.kafkaTLS, err = cfg.Kafka.TLS.ClientConfig(); err != nil {
		return nil, fmt.Errorf("kafka.tls: %w", err)
	}
	if m := cfg.Kafka.SASL; m.Mechanism != "" {
		s.kafkaUser, s.kafkaMech = m.Username, m.Mechanism
		if s.kafkaSASL, err = saslMechanism(m); err != nil {
			return nil, fmt.Errorf("kafka.sasl: %w", err)
		}
	}
	if s.retenTLS, err = cfg.Reten.TLS.ClientConfig(); err != nil {
		return nil, fmt.Errorf("reten.tls: %w", err)
	}
	return s, nil
}

// natsSecurity turns nats.tls and the one NATS auth method into nats.go options.
func natsSecurity(n config.NATSConfig) ([]nats.Option, error) {
	var opts []nats.Option
	tc, err := n.TLS.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("nats.tls: %w", err)
	}
	if tc != nil {
		opts = append(opts, nats.Secure(tc))
	}
	switch n.NATSAuth() {
	case "creds":
		opts = append(opts, nats.UserCredentials(n.Creds))
	case "nkey":
		pub, err := n.NKeyPublic()
		if err != nil {
			return nil, fmt.Errorf("nats.nkey_seed %w", err)
		}
		seed := n.NKeySeed
		opts = append(opts, nats.Nkey(pub, func(nonce []byte) ([]byte, error) {
			kp, err := nkeys.FromSeed([]byte(seed.Reveal()))
			if err != nil {
				return nil, errors.New("nats.nkey_seed is not a valid seed")
			}
			defer kp.Wipe()
			return kp.Sign(nonce)
		}))
	case "user":
		opts = append(opts, nats.UserInfo(n.User, n.Password.Reveal()))
	case "token":
		opts = append(opts, nats.Token(n.Token.Reveal()))
	}
	return opts, nil
}

func saslMechanism(c config.KafkaSASLConfig) (sasl.Mechanism, error) {
	switch c.Mechanism {
	case config.SASLPlain:
		return plain.Mechanism{Username: c.Username, Password: c.Password.Reveal()}, nil
	case config.SASLScramSHA256:
		return scram.Mechanism(scram.SHA256, c.Username, c.Password.Reveal())
	case config.SASLScramSHA512:
		return scram.Mechanism(scram.SHA512, c.Username, c.Password.Reveal())
	}
	return nil, fmt.Errorf("unknown mechanism %q", c.Mechanism)
}

// kafkaDialer is a kafka-go dialer with the relay's TLS and SASL. With onTLS, the
// negotiated TLS state is passed to it (check reports the version).
func (s *security) kafkaDialer(clientID string, timeout time.Duration, onTLS func(tls.ConnectionState)) *kafka.Dialer {
	d := &kafka.Dialer{ClientID: clientID, Timeout: timeout, DualStack: true, TLS: s.kafkaTLS, SASLMechanism: s.kafkaSASL}
	if d.TLS != nil && onTLS != nil {
		d.TLS = d.TLS.Clone()
		d.TLS.VerifyConnection = func(cs tls.ConnectionState) error { onTLS(cs); return nil }
	}
	return d
}

// pingKafka asks the brokers for the cluster metadata, over TLS and SASL as configured. The
// error names the last broker tried and what failed.
func (s *security) pingKafka(ctx context.Context, brokers []string) error {
	err := kafkasink.Ping(ctx, s.kafkaDialer("reten-relay", 3*time.Second, nil), brokers)
	var be *kafkasink.BrokerError
	if errors.As(err, &be) {
		return s.explainKafka(be.Broker, be.Err)
	}
	return err
}

// explainKafka turns a broker error into one that names the broker and says what failed.
func (s *security) explainKafka(broker string, err error) error {
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed):
		return fmt.Errorf("kafka broker %s: SASL %s authentication as user %q failed: the broker refused the user name or password (kafka.sasl): %w",
			broker, s.kafkaMech, s.kafkaUser, err)
	case errors.Is(err, kafka.UnsupportedSASLMechanism):
		return fmt.Errorf("kafka broker %s: the broker does not offer SASL %s (kafka.sasl.mechanism): %w", broker, s.kafkaMech, err)
	}
	if hint := tlsHint(err, "kafka.tls"); hint != "" {
		return fmt.Errorf("kafka broker %s: %s: %w", broker, hint, err)
	}
	return fmt.Errorf("kafka broker %s: %w", broker, err)
}

// explainNATS turns a connect error into one that names the server and says what failed.
func explainNATS(server, method string, err error) error {
	switch {
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked),
		errors.Is(err, nats.ErrAccountAuthExpired):
		what := "no credentials were sent (set one of nats.creds, nats.nkey_seed, nats.user, nats.token)"
		if method != "" {
			what = "the server refused the credentials of nats." + authKeyName(method)
		}
		return fmt.Errorf("nats %s: authentication failed: %s: %w", server, what, err)
	case errors.Is(err, nats.ErrSecureConnRequired):
		return fmt.Errorf("nats %s: the server requires TLS: use a tls:// URL or set nats.tls: %w", server, err)
	case errors.Is(err, nats.ErrSecureConnWanted):
		return fmt.Errorf("nats %s: TLS is configured but the server does not offer it: %w", server, err)
	}
	if hint := tlsHint(err, "nats.tls"); hint != "" {
		return fmt.Errorf("nats %s: %s: %w", server, hint, err)
	}
	if errors.Is(err, nats.ErrTLS) {
		// With TLS 1.3 a refused client certificate often shows only as the server
		// closing the connection right after the handshake (nats.go then says ErrTLS).
		return fmt.Errorf("nats %s: TLS: the server closed the connection after the handshake; does it need a client certificate (nats.tls.cert and .key)?: %w", server, err)
	}
	return fmt.Errorf("nats %s: %w", server, err)
}

func authKeyName(method string) string {
	switch method {
	case "nkey":
		return "nkey_seed"
	case "user":
		return "user/password"
	}
	return method
}

// tlsHint says what a TLS failure means for the operator, or "" when err is not one.
func tlsHint(err error, section string) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		alert    tls.AlertError
		op       *net.OpError
	)
	switch {
	case errors.As(err, &unknown):
		return "TLS: the server's certificate is not signed by a trusted CA; set " + section + ".ca to the CA that signed it"
	case errors.As(err, &hostname):
		return "TLS: the server's certificate is not for this host name; fix the address or set " + section + ".server_name"
	case errors.As(err, &invalid):
		return "TLS: the server's certificate is not valid (expired or not for server use)"
	case errors.As(err, &record):
		return "TLS: the server did not answer with TLS; is TLS turned on at the server?"
	case errors.As(err, &alert), errors.As(err, &op) && op.Op == "remote error":
		// crypto/tls reports the server's alert as a *net.OpError "remote error".
		return "TLS: the server rejected the handshake; does it need a client certificate (" + section + ".cert and .key)?"
	}
	return ""
}

// fatalConnErr reports whether err is a wrong credential or a TLS failure: waiting and
// retrying cannot fix those, so the relay stops at start-up with the reason.
func fatalConnErr(err error) bool {
	if errors.Is(err, kafka.SASLAuthenticationFailed) || errors.Is(err, kafka.UnsupportedSASLMechanism) ||
		errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) ||
		errors.Is(err, nats.ErrSecureConnRequired) || errors.Is(err, nats.ErrSecureConnWanted) || errors.Is(err, nats.ErrTLS) {
		return true
	}
	return tlsHint(err, "") != ""
}

// redactURL drops passwords from URLs (nats://user:pass@host) before they are printed.
func redactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = url.User("redacted")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// checkKafkaSecurity asks the brokers for metadata once at start-up when TLS or SASL is
// configured: a wrong password or an untrusted certificate stops the relay with the
// reason, while a broker that is merely down is left to /readyz, as without security.
func (a *app) checkKafkaSecurity(ctx context.Context) error {
	if a.sec.kafkaTLS == nil && a.sec.kafkaSASL == nil {
		return nil
	}
	err := a.sec.pingKafka(ctx, a.cfg.Kafka.Brokers)
	switch {
	case err == nil:
		return nil
	case fatalConnErr(err):
		return fmt.Errorf("kafka: %w", err)
	}
	a.log.Warn().Err(err).Msg("kafka: no broker reachable yet")
	return nil
}

// natsDownReason is the /readyz reason of a lost NATS connection, with the last error
// the client saw (a credential revoked or expired while running shows here).
func natsDownReason(url, method string, nc *nats.Conn) string {
	if err := nc.LastError(); err != nil {
		return explainNATS(redactURL(url), method, err).Error()
	}
	return "not connected to " + redactURL(url)
}
