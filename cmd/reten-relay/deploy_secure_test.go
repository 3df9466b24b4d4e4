package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/relaytest"
)

// TestDeploy_SecureComposeConnectsToItsNATS checks docker-compose.secure.yaml against the
// code, then does what it does without containers: makes the certificates with
// deploy/certs/generate.sh, starts a nats-server from deploy/nats-secure.conf (paths moved
// into a temp dir) and connects with deploy/config.secure.yaml and the compose environment.
func TestDeploy_SecureComposeConnectsToItsNATS(t *testing.T) {
	base := readYAMLDocs(t, filepath.Join(deployDir, "docker-compose.yaml"))[0]
	sec := readYAMLDocs(t, filepath.Join(deployDir, "docker-compose.secure.yaml"))[0]
	mounts := map[string]string{}
	for _, svc := range []string{"nats", "reten-relay"} {
		for _, v := range dig(sec, "services", svc, "volumes").([]any) {
			src, dst, _ := strings.Cut(strings.TrimSuffix(v.(string), ":ro"), ":")
			mounts[dst] = src
		}
	}
	if mounts["/etc/nats/nats.conf"] != "./nats-secure.conf" || mounts["/etc/nats/certs"] != "./certs" {
		t.Errorf("the secure NATS must run nats-secure.conf with ./certs at /etc/nats/certs, mounts %v", mounts)
	}
	cmd := dig(sec, "services", "reten-relay", "command").([]any)
	if len(cmd) != 3 || cmd[0] != "run" || mounts[cmd[2].(string)] != "./config.secure.yaml" {
		t.Errorf("the relay must run the mounted config.secure.yaml, command %v, mounts %v", cmd, mounts)
	}
	env := map[string]string{}
	for _, layer := range []any{base, sec} {
		for k, v := range dig(layer, "services", "reten-relay", "environment").(map[string]any) {
			env[k] = v.(string)
		}
	}
	if !strings.HasPrefix(env["NATS_URL"], "tls://") || mounts[env["NATS_CA"]] != "./certs/ca.pem" {
		t.Errorf("the relay must reach NATS with tls:// and the mounted CA, env %v", env)
	}
	cfgData, err := os.ReadFile(filepath.Join(deployDir, "config.secure.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range envRefs(string(cfgData)) {
		if _, ok := env[name]; !ok {
			t.Errorf("config.secure.yaml uses ${%s}, which the compose files do not set for the relay", name)
		}
	}

	dir := t.TempDir()
	certs := makeDeployCerts(t, dir)
	conf, err := os.ReadFile(filepath.Join(deployDir, "nats-secure.conf"))
	if err != nil {
		t.Fatal(err)
	}
	confText := strings.NewReplacer("/etc/nats/certs", certs, "/data", filepath.Join(dir, "js")).Replace(string(conf))
	confPath := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(confPath, []byte(confText), 0o600); err != nil {
		t.Fatal(err)
	}
	const password = "deploy-CANARY-pw"
	t.Setenv("NATS_PASSWORD", password) // nats-server reads $NATS_PASSWORD from its environment
	opts, err := server.ProcessConfigFile(confPath)
	if err != nil {
		t.Fatalf("nats-secure.conf: %v", err)
	}
	opts.Host, opts.Port, opts.HTTPPort = "127.0.0.1", -1, 0
	srv := relaytest.StartNATSServer(t, opts)
	relayEnv := func(pw string) func(string) (string, bool) {
		e := map[string]string{"RETEN_API_KEY": "rtn_sk_deploytest", "RETEN_URL": "prod", "KAFKA_BROKERS": "kafka:9092",
			"NATS_URL":  fmt.Sprintf("tls://127.0.0.1:%d", srv.Addr().(*net.TCPAddr).Port),
			"NATS_USER": env["NATS_USER"], "NATS_PASSWORD": pw, "NATS_CA": filepath.Join(certs, "ca.pem")}
		return func(k string) (string, bool) { v, ok := e[k]; return v, ok }
	}
	cfg, err := config.Load("config.secure.yaml", cfgData, relayEnv(password))
	if err != nil {
		t.Fatal(err)
	}
	if ok, line := checkNATS(cfg, 5*time.Second); !ok || !strings.Contains(line, "TLS 1.3") || !strings.Contains(line, "authenticated as reten-relay") {
		t.Errorf("the relay cannot use the secured compose NATS: %s", line)
	}
	cfg, _ = config.Load("config.secure.yaml", cfgData, relayEnv("wrong"))
	if ok, line := checkNATS(cfg, 5*time.Second); ok || !strings.Contains(line, "authentication failed") || strings.Contains(line, password) {
		t.Errorf("a wrong password: %s", line)
	}
}

// makeDeployCerts runs deploy/certs/generate.sh in a copy under dir and returns where the
// certificates are. Without openssl it writes the same files from relaytest.NewPKI, so the
// rest of the test still runs.
func makeDeployCerts(t *testing.T, dir string) string {
	t.Helper()
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(deployDir, "certs", "generate.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certs, "generate.sh"), script, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("openssl"); err == nil {
		if out, err := exec.Command("sh", filepath.Join(certs, "generate.sh")).CombinedOutput(); err != nil {
			t.Fatalf("generate.sh: %v\n%s", err, out)
		}
		return certs
	}
	t.Log("no openssl: using relaytest.NewPKI's certificates instead of generate.sh's")
	pki := relaytest.NewPKI(t)
	for src, dst := range map[string]string{pki.CAFile: "ca.pem", pki.ServerCert: "nats.pem", pki.ServerKey: "nats.key"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(certs, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certs
}

// TestDeploy_KubernetesSecretHasEveryCredential checks that every credential the ConfigMap's
// config reads comes from the reten-relay Secret, that the example Secret (all broker keys
// empty) loads, and that filling in one NATS method loads too.
func TestDeploy_KubernetesSecretHasEveryCredential(t *testing.T) {
	cm := readYAMLDocs(t, filepath.Join(deployDir, "k8s", "configmap.yaml"))[0]
	cfgText, _ := dig(cm, "data", "config.yaml").(string)
	secret := readYAMLDocs(t, filepath.Join(deployDir, "k8s", "secret.example.yaml"))[0]
	data := dig(secret, "stringData").(map[string]any)
	var dep map[string]any
	for _, d := range readYAMLDocs(t, filepath.Join(deployDir, "k8s", "deployment.yaml")) {
		if d["kind"] == "Deployment" {
			dep = d
		}
	}
	fromSecret := map[string]bool{}
	for _, e := range dig(dep, "spec", "template", "spec", "containers", 0, "env").([]any) {
		if key, ok := dig(e, "valueFrom", "secretKeyRef", "key").(string); ok {
			fromSecret[dig(e, "name").(string)] = true
			if _, ok := data[key]; !ok {
				t.Errorf("the Deployment reads Secret key %s, which secret.example.yaml lacks", key)
			}
		}
	}
	for _, cred := range []string{"NATS_USER", "NATS_PASSWORD", "NATS_TOKEN", "NATS_NKEY_SEED", "KAFKA_USER", "KAFKA_PASSWORD"} {
		if !fromSecret[cred] || !strings.Contains(cfgText, "${"+cred) {
			t.Errorf("%s must come from the Secret and be used by the ConfigMap's config", cred)
		}
	}
	for _, file := range []string{"nats.creds", "ca.pem"} {
		if _, ok := data[file]; !ok {
			t.Errorf("secret.example.yaml lacks the file key %s", file)
		}
	}
	env := map[string]string{"RETEN_API_KEY": "rtn_sk_deploytest"}
	for k, v := range data {
		if s, _ := v.(string); k == strings.ToUpper(k) && k != "RETEN_API_KEY" {
			env[k] = s
		}
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if _, err := config.Load("configmap config.yaml", []byte(cfgText), lookup); err != nil {
		t.Errorf("the ConfigMap's config with the example Secret does not load: %v", err)
	}
	env["NATS_USER"], env["NATS_PASSWORD"] = "reten-relay", "pw"
	env["KAFKA_BROKERS"], env["KAFKA_SASL_MECHANISM"], env["KAFKA_USER"], env["KAFKA_PASSWORD"] = "kafka:9093", "SCRAM-SHA-512", "relay", "pw"
	cfg, err := config.Load("configmap config.yaml", []byte(cfgText), lookup)
	if err != nil {
		t.Fatalf("the ConfigMap's config with NATS and Kafka credentials does not load: %v", err)
	}
	if cfg.NATS.NATSAuth() != "user" || cfg.Kafka.SASL.Mechanism != "SCRAM-SHA-512" {
		t.Errorf("credentials not picked up: nats %q, kafka %q", cfg.NATS.NATSAuth(), cfg.Kafka.SASL.Mechanism)
	}
}
