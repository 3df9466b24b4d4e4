package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/reten/reten-relay/relay/relaytest"
)

// kafkaSecureConfig is the kafka, tasks-free part of a config for topic suffix sfx.
func kafkaSecureResults(sfx string) string {
	return fmt.Sprintf(`results:
  source: kafka
  topic: results-%[1]s
  group: relay-%[1]s
  dead_letter: dlq-%[1]s
  backoff: {initial: 10ms, max: 200ms, max_elapsed: 10m}
`, sfx)
}

func kafkaSecureRoutes(sfx string) string {
	return fmt.Sprintf(`[{name: all, sink: kafka, topic: tasks-%s}]`, sfx)
}

// TestSecure_Kafka runs the relay against kfake clusters that require TLS and SASL (PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512), and one that requires a client certificate: events and
// results flow, `check` says how it connected, a wrong password or an untrusted certificate
// makes `run` exit 1 naming the broker and the failure, and no secret appears anywhere.
func TestSecure_Kafka(t *testing.T) {
	// Parallel: the secure tests mostly wait on brokers and a subprocess.
	t.Parallel()
	pki := relaytest.NewPKI(t)
	const plainPW, scram256PW, scram512PW = "pw-CANARY-plain-1a2b", "pw-CANARY-s256-3c4d", "pw-CANARY-s512-5e6f"
	const wrongPW = "pw-CANARY-wrong-9z8y"
	sasl := relaytest.StartKafka(t, kfake.TLS(pki.ServerTLS(false)), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plain-user", plainPW),
		kfake.Superuser("SCRAM-SHA-256", "scram256-user", scram256PW),
		kfake.Superuser("SCRAM-SHA-512", "scram512-user", scram512PW),
		kfake.Superuser("SCRAM-SHA-512", "rotated-user", scram512PW)).Brokers()[0]
	mtls := relaytest.StartKafka(t, kfake.TLS(pki.ServerTLS(true))).Brokers()[0]
	caOnly := fmt.Sprintf("{enabled: true, ca: %q}", pki.CAFile)

	tests := []struct {
		name, broker, tls, mech, user, password, who string
	}{
		{"SASL PLAIN over TLS", sasl, caOnly, "PLAIN", "plain-user", plainPW, `SASL PLAIN as user "plain-user" accepted`},
		{"SASL SCRAM-SHA-256 over TLS", sasl, caOnly, "SCRAM-SHA-256", "scram256-user", scram256PW, `SASL SCRAM-SHA-256 as user "scram256-user"`},
		{"SASL SCRAM-SHA-512 over TLS", sasl, caOnly, "SCRAM-SHA-512", "scram512-user", scram512PW, `SASL SCRAM-SHA-512 as user "scram512-user"`},
		{"mutual TLS", mtls, fmt.Sprintf("{enabled: true, ca: %q, cert: %q, key: %q}", pki.CAFile, pki.ClientCert, pki.ClientKey),
			"", "", "", "TLS 1.3"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSecureRun(t)
			sfx := fmt.Sprint(i)
			section := func(password string) string {
				doc := fmt.Sprintf("kafka:\n  brokers: [%q]\n  create_topics: true\n  tls: %s\n", tc.broker, tc.tls)
				if tc.mech != "" {
					doc += fmt.Sprintf("  sasl: {mechanism: %s, username: %s, password: %s}\n", tc.mech, tc.user, password)
				}
				return doc
			}
			path := s.configFile("relay", section(tc.password), kafkaSecureRoutes(sfx), kafkaSecureResults(sfx))
			kafkaFlow(t, s, path, sfx)
			if tc.mech == "SCRAM-SHA-512" {
				s.replayOne(path) // dlq replay dials with the same TLS and SASL
			}
			code, out := s.check(path)
			if code != exitOK || !strings.Contains(out, "TLS 1.3") || !strings.Contains(out, tc.who) {
				t.Errorf("check exited %d; want 0 and a line with TLS 1.3 and %q:\n%s", code, tc.who, out)
			}
			if tc.mech != "" {
				wrong := s.configFile("wrong", section(wrongPW), kafkaSecureRoutes(sfx), "")
				s.runFails(wrong, fmt.Sprintf("kafka broker %s: SASL %s authentication as user", tc.broker, tc.mech), tc.user,
					"the broker refused the user name or password")
				s.checkFails(wrong, fmt.Sprintf("kafka broker %s: SASL %s authentication as user", tc.broker, tc.mech))
			}
			s.noSecrets([]string{tc.password, wrongPW}, "ai.reten.task.created", "dead_letter", "reten_relay_results_total")
		})
	}
	t.Run("a credential deleted while running turns readyz red with the reason", func(t *testing.T) {
		s := newSecureRun(t)
		path := s.configFile("relay", fmt.Sprintf("kafka: {brokers: [%q], create_topics: true, tls: %s, sasl: {mechanism: SCRAM-SHA-512, username: rotated-user, password: %s}}",
			sasl, caOnly, scram512PW), kafkaSecureRoutes("rotated"), "")
		base, stop := s.start(path)
		relaytest.WaitFor(t, e2eWait, "readyz 200", func() bool { code, _ := get(base + "/readyz"); return code == 200 })
		sec, err := newSecurity(s.load(path))
		if err != nil {
			t.Fatal(err)
		}
		admin := &kafka.Client{Addr: kafka.TCP(sasl), Transport: &kafka.Transport{TLS: sec.kafkaTLS, SASL: sec.kafkaSASL}}
		resp, err := admin.AlterUserScramCredentials(context.Background(), &kafka.AlterUserScramCredentialsRequest{
			Deletions: []kafka.UserScramCredentialsDeletion{{Name: "rotated-user", Mechanism: kafka.ScramMechanismSha512}}})
		if err != nil || resp.Results[0].Error != nil {
			t.Fatalf("delete the credential: %v %+v", err, resp)
		}
		relaytest.WaitFor(t, e2eWait, "readyz red naming the failure", func() bool {
			code, body := get(base + "/readyz")
			return code == 503 && strings.Contains(body, `SASL SCRAM-SHA-512 authentication as user \"rotated-user\" failed`)
		})
		stop()
		s.noSecrets([]string{scram512PW}, "authentication as user")
	})
	t.Run("an untrusted broker certificate stops run", func(t *testing.T) {
		s := newSecureRun(t)
		path := s.configFile("relay", fmt.Sprintf("kafka: {brokers: [%q], tls: {enabled: true}, sasl: {mechanism: PLAIN, username: plain-user, password: %s}}",
			sasl, plainPW), kafkaSecureRoutes("untrusted"), "")
		s.runFails(path, "kafka broker "+sasl, "not signed by a trusted CA; set kafka.tls.ca")
		s.noSecrets([]string{plainPW})
	})
}

// kafkaFlow runs the relay from path: every task becomes an event on tasks-sfx, three
// results on results-sfx reach Reten and a broken one lands on dlq-sfx. The test's own
// clients use the relay's TLS and SASL settings and copy what they read into s.out.
func kafkaFlow(t *testing.T, s *secureRun, path, sfx string) {
	t.Helper()
	cfg := s.load(path)
	sec, err := newSecurity(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, stop := s.start(path)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	read := func(topic string, n int) {
		t.Helper()
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.Kafka.Brokers, Topic: topic, MaxWait: 100 * time.Millisecond,
			Dialer: sec.kafkaDialer("test", 10*time.Second, nil)})
		defer r.Close()
		for range n {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read %s: %v", topic, err)
			}
			fmt.Fprintf(&s.out, "%s %v %s\n", topic, m.Headers, m.Value)
		}
	}
	read("tasks-"+sfx, secureTasks)
	w := &kafka.Writer{Addr: kafka.TCP(cfg.Kafka.Brokers...), Topic: "results-" + sfx, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond, AllowAutoTopicCreation: true,
		Transport: &kafka.Transport{TLS: sec.kafkaTLS, SASL: sec.kafkaSASL}}
	defer w.Close()
	var msgs []kafka.Message
	for _, task := range s.sim.Tasks()[:3] {
		msgs = append(msgs, kafka.Message{Key: []byte(task.ID), Value: resultBody(task)})
	}
	msgs = append(msgs, kafka.Message{Key: []byte("broken"), Value: []byte(`{"broken":`)})
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	s.waitResults(3)
	read("dlq-"+sfx, 1)
	relaytest.WaitFor(t, e2eWait, "readyz 200", func() bool { code, _ := get(base + "/readyz"); return code == 200 })
}
