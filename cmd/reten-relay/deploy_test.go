package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/reten/reten-relay/relay/config"
)

// The build machine has no container engine, so these tests cannot run the images. They
// parse every file in deploy/ and check that it agrees with the code: config keys load,
// ports, probe paths, environment names and the commands exist.

const deployDir = "../../deploy"

var deployEnv = map[string]string{
	"RETEN_API_KEY": "rtn_sk_deploytest",
	"RETEN_URL":     "prod",
	"NATS_URL":      "nats://nats:4222",
	"KAFKA_BROKERS": "kafka:9092",
}

func lookupDeployEnv(k string) (string, bool) { v, ok := deployEnv[k]; return v, ok }

// envRefs lists the ${VAR} names a config refers to.
func envRefs(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)`).FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

func loadDeployConfig(t *testing.T, name string, data []byte) *config.Config {
	t.Helper()
	cfg, err := config.Load(name, data, lookupDeployEnv)
	if err != nil {
		t.Fatalf("%s does not load:\n%v", name, err)
	}
	if cfg.HTTP.Listen != "0.0.0.0:8080" {
		t.Errorf("%s: http.listen = %q; in a container it must listen on 0.0.0.0:8080 for the probes", name, cfg.HTTP.Listen)
	}
	return cfg
}

func readYAMLDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			if err.Error() == "EOF" {
				return docs
			}
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, d)
	}
}

// dig walks nested maps and lists: dig(doc, "spec", "template", 0).
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func TestDeploy_ConfigLoadsAndNamesOnlyProvidedEnvironment(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadDeployConfig(t, "deploy/config.yaml", data)
	if cfg.Reten.IsSimulator() || cfg.NATS.Embedded() {
		t.Error("deploy/config.yaml must talk to a real Reten and a real NATS")
	}
	compose := readYAMLDocs(t, filepath.Join(deployDir, "docker-compose.yaml"))[0]
	relayEnv := dig(compose, "services", "reten-relay", "environment").(map[string]any)
	for _, name := range envRefs(string(data)) {
		if _, ok := relayEnv[name]; !ok {
			t.Errorf("deploy/config.yaml uses ${%s}, which docker-compose does not set for the relay", name)
		}
	}
}

func TestDeploy_DockerfileRunsTheShippedConfigAndProbesHealthz(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(raw)
	for _, want := range []string{
		"COPY deploy/config.yaml /etc/reten-relay/config.yaml",
		`CMD ["run", "-config", "/etc/reten-relay/config.yaml"]`,
		"EXPOSE 8080",
		`"healthcheck", "-url", "http://127.0.0.1:8080/healthz"`,
		"USER 65532:65532",
		"CGO_ENABLED=0",
		"./cmd/reten-relay",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// The commands the image runs must exist.
	for _, cmd := range []string{"run", "healthcheck"} {
		if !strings.Contains(generalUsage(), "reten-relay "+cmd) {
			t.Errorf("Dockerfile runs %q, which the CLI does not have", cmd)
		}
	}
	// The module's Go version must be the image's.
	mod, _ := os.ReadFile("../../go.mod")
	if goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod); goLine == nil || !strings.Contains(df, "golang:"+string(goLine[1])) {
		t.Errorf("Dockerfile's golang image does not match go.mod's go version")
	}
}

func TestDeploy_ComposeWiresRelayToNATSAndKafka(t *testing.T) {
	c := readYAMLDocs(t, filepath.Join(deployDir, "docker-compose.yaml"))[0]
	for _, svc := range []string{"nats", "kafka", "reten-relay"} {
		if dig(c, "services", svc) == nil {
			t.Fatalf("docker-compose has no service %q", svc)
		}
	}
	env := dig(c, "services", "reten-relay", "environment").(map[string]any)
	if env["NATS_URL"] != "nats://nats:4222" || env["KAFKA_BROKERS"] != "kafka:9092" {
		t.Errorf("relay environment = %v, want NATS_URL nats://nats:4222 and KAFKA_BROKERS kafka:9092", env)
	}
	if p := dig(c, "services", "reten-relay", "ports", 0); p != "8080:8080" {
		t.Errorf("relay ports = %v, want 8080:8080", p)
	}
	if df := dig(c, "services", "reten-relay", "build", "dockerfile"); df != "deploy/Dockerfile" {
		t.Errorf("relay build dockerfile = %v", df)
	}
	natsConf, err := os.ReadFile(filepath.Join(deployDir, "nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(natsConf), "sync_interval: always") {
		t.Error("deploy/nats.conf must fsync every JetStream write (sync_interval: always)")
	}
	if !strings.Contains(string(natsConf), "port: 4222") {
		t.Error("deploy/nats.conf must listen on 4222, the port NATS_URL names")
	}
	kenv := dig(c, "services", "kafka", "environment").(map[string]any)
	if kenv["KAFKA_PROCESS_ROLES"] != "broker,controller" || !strings.Contains(kenv["KAFKA_ADVERTISED_LISTENERS"].(string), "kafka:9092") {
		t.Errorf("kafka must run KRaft single-node advertising kafka:9092, got %v", kenv)
	}
}

func TestDeploy_KubernetesManifestsAgreeWithTheCode(t *testing.T) {
	cm := readYAMLDocs(t, filepath.Join(deployDir, "k8s", "configmap.yaml"))[0]
	cfgText, _ := dig(cm, "data", "config.yaml").(string)
	cfg := loadDeployConfig(t, "configmap config.yaml", []byte(cfgText))
	_, port, _ := net.SplitHostPort(cfg.HTTP.Listen)

	docs := readYAMLDocs(t, filepath.Join(deployDir, "k8s", "deployment.yaml"))
	var dep map[string]any
	kinds := map[string]bool{}
	for _, d := range docs {
		kinds[d["kind"].(string)] = true
		if d["kind"] == "Deployment" {
			dep = d
		}
	}
	for _, k := range []string{"Deployment", "PersistentVolumeClaim", "Service"} {
		if !kinds[k] {
			t.Errorf("deployment.yaml lacks a %s", k)
		}
	}
	if dig(dep, "spec", "replicas") != 1 {
		t.Error("one poller replica: the snapshot is local to the pod")
	}
	ctr := dig(dep, "spec", "template", "spec", "containers", 0)
	if got := dig(ctr, "ports", 0, "containerPort"); fmt.Sprint(got) != port {
		t.Errorf("containerPort %v, config listens on %s", got, port)
	}
	if p := dig(ctr, "livenessProbe", "httpGet", "path"); p != "/healthz" {
		t.Errorf("liveness probe path %v", p)
	}
	if p := dig(ctr, "readinessProbe", "httpGet", "path"); p != "/readyz" {
		t.Errorf("readiness probe path %v", p)
	}
	if dig(ctr, "resources", "requests") == nil {
		t.Error("no resource requests")
	}
	args := dig(ctr, "args").([]any)
	mount := ""
	for _, m := range dig(ctr, "volumeMounts").([]any) {
		if dig(m, "name") == "config" {
			mount = dig(m, "mountPath").(string)
		}
	}
	if len(args) != 3 || args[0] != "run" || args[2] != mount+"/config.yaml" {
		t.Errorf("args %v do not run the ConfigMap's config at %s/config.yaml", args, mount)
	}
	// Every ${VAR} of the ConfigMap's config without a default is set in the container.
	set := map[string]bool{}
	for _, e := range dig(ctr, "env").([]any) {
		set[dig(e, "name").(string)] = true
	}
	if !set["RETEN_API_KEY"] || dig(ctr, "env", 0, "valueFrom", "secretKeyRef", "name") != "reten-relay" {
		t.Error("RETEN_API_KEY must come from the reten-relay Secret")
	}
	secret := readYAMLDocs(t, filepath.Join(deployDir, "k8s", "secret.example.yaml"))[0]
	if dig(secret, "stringData", "RETEN_API_KEY") == nil {
		t.Error("secret.example.yaml must hold RETEN_API_KEY")
	}
	for _, name := range envRefs(cfgText) {
		if !set[name] && !strings.Contains(cfgText, "${"+name+":-") {
			t.Errorf("the ConfigMap's config needs ${%s}, which the Deployment does not set", name)
		}
	}
	if st := cfg.Tasks.State; !strings.HasPrefix(st, "/var/lib/reten-relay/") {
		t.Errorf("tasks.state %s is not on the state volume", st)
	}
}
