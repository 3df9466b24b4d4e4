package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/reten/reten-relay/relay/config"
)

// checkNATS connects to NATS as run would and says how: server version, TLS version, and
// whom the server authenticated the relay as (it tells through $SYS.REQ.USER.INFO).
func checkNATS(cfg *config.Config, timeout time.Duration) (bool, string) {
	url := redactURL(cfg.NATS.URL)
	opts, err := natsSecurity(cfg.NATS)
	if err != nil {
		return false, fmt.Sprintf("nats %s: %v", url, err)
	}
	nc, err := nats.Connect(cfg.NATS.URL, append([]nats.Option{nats.Name(cfg.NATS.Name + "-check"), nats.Timeout(timeout)}, opts...)...)
	if err != nil {
		return false, explainNATS(url, cfg.NATS.NATSAuth(), err).Error()
	}
	defer nc.Close()
	parts := []string{"server " + nc.ConnectedServerVersion()}
	if cs, err := nc.TLSConnectionState(); err == nil {
		parts = append(parts, tls.VersionName(cs.Version))
	} else {
		parts = append(parts, "no TLS")
	}
	if who := natsUser(nc, timeout); who != "" {
		parts = append(parts, "authenticated as "+who)
	} else if m := cfg.NATS.NATSAuth(); m != "" {
		parts = append(parts, "authenticated with nats."+authKeyName(m))
	}
	_, jsErr := nc.JetStream()
	if jsErr != nil {
		return false, fmt.Sprintf("nats %s: connected (%s) but JetStream: %v", nc.ConnectedUrlRedacted(), strings.Join(parts, ", "), jsErr)
	}
	return true, fmt.Sprintf("nats %s: connected (%s)", nc.ConnectedUrlRedacted(), strings.Join(parts, ", "))
}

// natsUser asks the server whom this connection is; "" when it does not say.
func natsUser(nc *nats.Conn, timeout time.Duration) string {
	msg, err := nc.Request("$SYS.REQ.USER.INFO", nil, min(timeout, 2*time.Second))
	if err != nil {
		return ""
	}
	var resp struct {
		Data struct {
			User        string `json:"user"`
			UserName    string `json:"user_name"`
			Account     string `json:"account"`
			AccountName string `json:"account_name"`
		} `json:"data"`
	}
	if json.Unmarshal(msg.Data, &resp) != nil || resp.Data.User == "" {
		return ""
	}
	d := resp.Data
	who := d.User
	if d.UserName != "" && d.UserName != d.User {
		who = d.UserName + " (" + d.User + ")"
	}
	if acc := cmpOr(d.AccountName, d.Account); acc != "" {
		who += " in account " + acc
	}
	return who
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checkKafka asks the first broker for the cluster's brokers as run would and says how it
// got in: TLS version and SASL user (Kafka does not tell whom it authenticated; the SASL
// exchange succeeding is the broker accepting that user).
func checkKafka(ctx context.Context, cfg *config.Config, timeout time.Duration) (bool, string) {
	sec, err := newSecurity(cfg)
	if err != nil {
		return false, err.Error()
	}
	broker := cfg.Kafka.Brokers[0]
	var (
		mu  sync.Mutex
		ver uint16
	)
	d := sec.kafkaDialer(cfg.Kafka.ClientID+"-check", timeout, func(cs tls.ConnectionState) { mu.Lock(); ver = cs.Version; mu.Unlock() })
	conn, err := d.DialContext(ctx, "tcp", broker)
	if err != nil {
		return false, sec.explainKafka(broker, err).Error()
	}
	defer conn.Close()
	brokers, err := conn.Brokers()
	if err != nil {
		return false, sec.explainKafka(broker, err).Error()
	}
	parts := []string{fmt.Sprintf("%d brokers", len(brokers))}
	mu.Lock()
	if ver != 0 {
		parts = append(parts, tls.VersionName(ver))
	} else {
		parts = append(parts, "no TLS")
	}
	mu.Unlock()
	if sec.kafkaSASL != nil {
		parts = append(parts, fmt.Sprintf("SASL %s as user %q accepted", sec.kafkaMech, sec.kafkaUser))
	}
	return true, fmt.Sprintf("kafka %s: connected (%s)", broker, strings.Join(parts, ", "))
}
