package config_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"gopkg.in/yaml.v3"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/relaytest"
)

// secureEnv holds real files for the tests' ${VAR}s: a CA, client certificate and key, a
// creds file, a user and an account seed, and a file that is none of these.
func secureEnv(t *testing.T) env {
	t.Helper()
	pki := relaytest.NewPKI(t)
	dir := t.TempDir()
	user, _ := nkeys.CreateUser()
	seed, _ := user.Seed()
	pub, _ := user.PublicKey()
	acc, _ := nkeys.CreateAccount()
	accSeed, _ := acc.Seed()
	uc := jwt.NewUserClaims(pub)
	uc.Name = "relay"
	token, err := uc.Encode(acc)
	if err != nil {
		t.Fatal(err)
	}
	creds, _ := jwt.FormatUserConfig(token, seed)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return env{
		"CA": pki.CAFile, "CERT": pki.ClientCert, "KEY": pki.ClientKey, "SERVER_KEY": pki.ServerKey,
		"CREDS": write("relay.creds", creds), "JUNK": write("junk.txt", []byte("not a certificate\n")),
		"SEED": string(seed), "ACCOUNT_SEED": string(accSeed), "MISSING": filepath.Join(dir, "missing.pem"),
	}
}

// Each config is written from column 0 so that line numbers read straight off the test.
func TestLoad_SecureKeysReportFileLineAndField(t *testing.T) {
	e := secureEnv(t)
	tests := []struct{ name, yaml, want string }{
		{"two NATS auth methods", `nats:
  url: tls://nats:4222
  user: relay
  password: secret
  token: t0k
`, `config.yaml:5: nats.token: only one NATS authentication method may be set, but user is set too`},
		{"credentials in the URL", "nats:\n  url: nats://relay:secret@nats:4222\n",
			`config.yaml:2: nats.url: must not hold credentials; use nats.user and nats.password, or nats.token`},
		{"a user without a password", "nats:\n  url: nats://nats:4222\n  user: relay\n",
			`config.yaml:1: nats.password: is required with nats.user`},
		{"a creds file that does not exist", "nats:\n  url: nats://nats:4222\n  creds: ${MISSING}\n",
			`config.yaml:3: nats.creds: ` + e["MISSING"] + ` does not exist (set by ${MISSING})`},
		{"a creds file that holds no JWT", "nats:\n  url: nats://nats:4222\n  creds: ${JUNK}\n",
			`config.yaml:3: nats.creds: ` + e["JUNK"] + ` does not hold a NATS user JWT (set by ${JUNK})`},
		{"an nkey seed that is not one", "nats:\n  url: nats://nats:4222\n  nkey_seed: SUNOTASEED\n",
			`config.yaml:3: nats.nkey_seed: is not a NATS nkey seed (it starts with SU)`},
		{"an account seed where a user seed belongs", "nats:\n  url: nats://nats:4222\n  nkey_seed: ${ACCOUNT_SEED}\n",
			`config.yaml:3: nats.nkey_seed: is not a NATS user nkey seed (it starts with SU) (set by ${ACCOUNT_SEED})`},
		{"credentials for the embedded server", "nats:\n  token: t0k\n",
			`config.yaml:1: nats.url: is "embedded": nats.tls and NATS credentials apply to a server the relay connects to`},
		{"a CA file that does not exist", "nats:\n  url: tls://nats:4222\n  tls:\n    ca: ${MISSING}\n",
			`config.yaml:4: nats.tls.ca: ` + e["MISSING"] + ` does not exist (set by ${MISSING})`},
		{"a CA that is a device", "nats:\n  url: tls://nats:4222\n  tls:\n    ca: /dev/zero\n",
			`config.yaml:4: nats.tls.ca: /dev/zero is not a regular file`},
		{"a CA file that is not PEM", "nats:\n  url: tls://nats:4222\n  tls:\n    ca: ${JUNK}\n",
			`config.yaml:4: nats.tls.ca: ` + e["JUNK"] + ` holds no PEM certificate (set by ${JUNK})`},
		{"a client certificate without its key", "nats:\n  url: tls://nats:4222\n  tls: {cert: \"${CERT}\"}\n",
			`config.yaml:3: nats.tls.key: is required when cert is set`},
		{"a certificate with someone else's key", "kafka:\n  brokers: [k:9093]\n  tls:\n    enabled: true\n    cert: ${CERT}\n    key: ${SERVER_KEY}\n",
			`config.yaml:5: kafka.tls.cert: ` + e["CERT"] + ` and ` + e["SERVER_KEY"] + ` are not a certificate and its key: tls: private key does not match public key (set by ${CERT})`},
		{"kafka.tls keys without enabled", "kafka:\n  brokers: [k:9093]\n  tls:\n    ca: ${CA}\n",
			`config.yaml:3: kafka.tls.enabled: must be true when other kafka.tls keys are set`},
		{"an unknown SASL mechanism", "kafka:\n  brokers: [k:9093]\n  sasl:\n    mechanism: GSSAPI\n    username: u\n    password: p\n",
			`config.yaml:4: kafka.sasl.mechanism: must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, got "GSSAPI"`},
		{"a SASL mechanism without a password", "kafka:\n  brokers: [k:9093]\n  sasl: {mechanism: SCRAM-SHA-512, username: u}\n",
			`config.yaml:3: kafka.sasl.password: is required with kafka.sasl.mechanism SCRAM-SHA-512`},
		{"a Reten CA that does not exist", "reten:\n  tls: {ca: \"${MISSING}\"}\n",
			`config.yaml:2: reten.tls.ca: ` + e["MISSING"] + ` does not exist (set by ${MISSING})`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load("config.yaml", []byte(tt.yaml), e.lookup)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Load error:\n%v\nwant:\n%s", err, tt.want)
			}
			for _, secret := range []string{e["SEED"], e["ACCOUNT_SEED"], "SUNOTASEED", "secret", "t0k"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error echoes a secret: %v", err)
				}
			}
		})
	}
}

func TestLoad_SecureConfigLoadsAndNeverPrintsItsSecrets(t *testing.T) {
	e := secureEnv(t)
	e["NATS_PASSWORD"], e["KAFKA_PASSWORD"] = "nats-pw-do_not_print", "kafka-pw-do_not_print"
	cfg, err := config.Load("c.yaml", []byte(`
reten: {url: prod, api_key: rtn_sk_x, tls: {ca: "${CA}"}}
nats:
  url: tls://nats:4222
  user: relay
  password: ${NATS_PASSWORD}
  tls: {ca: "${CA}", cert: "${CERT}", key: "${KEY}", server_name: nats.internal}
kafka:
  brokers: [k:9093]
  tls: {enabled: true, ca: "${CA}"}
  sasl: {mechanism: SCRAM-SHA-512, username: relay, password: "${KAFKA_PASSWORD}"}
`), e.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.NATSAuth() != "user" || cfg.NATS.Password.Reveal() != e["NATS_PASSWORD"] || cfg.Kafka.SASL.Password.Reveal() != e["KAFKA_PASSWORD"] {
		t.Fatalf("secure keys not decoded: %+v %+v", cfg.NATS, cfg.Kafka)
	}
	tc, err := cfg.NATS.TLS.ClientConfig()
	if err != nil || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "nats.internal" {
		t.Fatalf("nats TLS config = %+v, %v", tc, err)
	}
	js, _ := json.Marshal(cfg)
	ym, _ := yaml.Marshal(cfg)
	for how, out := range map[string]string{"%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", *cfg), "%#v": fmt.Sprintf("%#v", *cfg),
		"json": string(js), "yaml": string(ym), "Redacted": cfg.Redacted()} {
		if strings.Contains(out, "do_not_print") {
			t.Errorf("%s shows a password: %s", how, out)
		}
	}
	for _, seedCase := range []string{"nkey_seed: ${SEED}", "token: ${SEED}", "creds: ${CREDS}"} {
		cfg, err := config.Load("c.yaml", []byte("nats:\n  url: tls://nats:4222\n  "+seedCase+"\n"), e.lookup)
		if err != nil {
			t.Fatalf("%s: %v", seedCase, err)
		}
		js, _ := json.Marshal(cfg)
		if out := fmt.Sprintf("%v %+v %s %s", cfg, *cfg, js, cfg.Redacted()); strings.Contains(out, e["SEED"]) {
			t.Errorf("%s: the seed is printed: %s", seedCase, out)
		}
	}
}

func TestWarnings_InsecureSettingsAreNamed(t *testing.T) {
	cfg, err := config.Load("c.yaml", []byte(`
nats: {url: nats://nats:4222, token: t0k, tls: {insecure_skip_verify: true}}
kafka: {brokers: [k:9092], sasl: {mechanism: PLAIN, username: u, password: p}}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Warnings().Error()
	for _, want := range []string{
		"c.yaml:2: nats.tls.insecure_skip_verify: is true",
		"c.yaml:3: kafka.sasl.mechanism: PLAIN without kafka.tls sends the password in clear text",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
}
