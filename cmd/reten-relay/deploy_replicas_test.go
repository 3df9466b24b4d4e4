package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDeploy_ReplicasConfigKeepsTheStateInJetStreamKV(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(deployDir, "config.replicas.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadDeployConfig(t, "deploy/config.replicas.yaml", data)
	if cfg.Reten.IsSimulator() || cfg.NATS.Embedded() {
		t.Error("deploy/config.replicas.yaml must talk to a real Reten and a real NATS")
	}
	if cfg.Tasks.StateBucket() == "" || cfg.Tasks.Replica != "" {
		t.Errorf("tasks.state %q, replica %q: want a nats-kv state and the host name as replica name", cfg.Tasks.State, cfg.Tasks.Replica)
	}
	if cfg.Results == nil || cfg.Results.Source != "nats" {
		t.Error("every replica consumes results from the one durable consumer")
	}
}

func TestDeploy_ComposeRunsThreeRelaysOnOneNATS(t *testing.T) {
	c := readYAMLDocs(t, filepath.Join(deployDir, "docker-compose.replicas.yaml"))[0]
	cfgText, err := os.ReadFile(filepath.Join(deployDir, "config.replicas.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if dig(c, "services", "nats") == nil {
		t.Fatal("no nats service")
	}
	hosts, ports := map[string]bool{}, map[string]bool{}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("relay-%d", i)
		svc := dig(c, "services", name)
		if svc == nil {
			t.Fatalf("no service %s", name)
		}
		host, _ := dig(svc, "hostname").(string)
		port, _ := dig(svc, "ports", 0).(string)
		hosts[host], ports[port] = true, true
		if df := dig(svc, "build", "dockerfile"); df != "deploy/Dockerfile" {
			t.Errorf("%s builds %v", name, df)
		}
		if cmd := fmt.Sprint(dig(svc, "command")); cmd != "[run -config /etc/reten-relay/replicas.yaml]" {
			t.Errorf("%s runs %s", name, cmd)
		}
		vols := fmt.Sprint(dig(svc, "volumes"))
		if !strings.Contains(vols, "./config.replicas.yaml:/etc/reten-relay/replicas.yaml") || strings.Count(vols, ":") != 2 {
			t.Errorf("%s mounts %s: want the config only, no state volume", name, vols)
		}
		env, _ := dig(svc, "environment").(map[string]any)
		for _, v := range envRefs(string(cfgText)) {
			if _, ok := env[v]; !ok && !strings.Contains(string(cfgText), "${"+v+":-") {
				t.Errorf("%s lacks %s, which config.replicas.yaml needs", name, v)
			}
		}
		if env["NATS_URL"] != "nats://nats:4222" {
			t.Errorf("%s NATS_URL = %v", name, env["NATS_URL"])
		}
	}
	if len(hosts) != 3 || len(ports) != 3 {
		t.Errorf("the relays need distinct host names (their replica names) and ports: %v %v", hosts, ports)
	}
}

func TestDeploy_KubernetesReplicasHaveNoVolumeAndThreePods(t *testing.T) {
	cm := readYAMLDocs(t, filepath.Join(deployDir, "k8s", "replicas", "configmap.yaml"))[0]
	cfgText, _ := dig(cm, "data", "config.yaml").(string)
	cfg := loadDeployConfig(t, "replicas configmap config.yaml", []byte(cfgText))
	if cfg.Tasks.StateBucket() == "" {
		t.Fatalf("tasks.state %q is not nats-kv:", cfg.Tasks.State)
	}
	_, port, _ := net.SplitHostPort(cfg.HTTP.Listen)
	var dep map[string]any
	kinds := map[string]bool{}
	for _, d := range readYAMLDocs(t, filepath.Join(deployDir, "k8s", "replicas", "deployment.yaml")) {
		kinds[d["kind"].(string)] = true
		if d["kind"] == "Deployment" {
			dep = d
		}
	}
	if kinds["PersistentVolumeClaim"] || !kinds["Deployment"] || !kinds["Service"] {
		t.Errorf("kinds %v: want a Deployment and a Service and no PersistentVolumeClaim", kinds)
	}
	if dig(dep, "spec", "replicas") != 3 {
		t.Errorf("replicas = %v, want 3", dig(dep, "spec", "replicas"))
	}
	pod := dig(dep, "spec", "template", "spec")
	vols := dig(pod, "volumes").([]any)
	if len(vols) != 1 || dig(vols[0], "configMap", "name") != dig(cm, "metadata", "name") {
		t.Errorf("volumes %v: want the ConfigMap only", vols)
	}
	ctr := dig(pod, "containers", 0)
	if got := dig(ctr, "ports", 0, "containerPort"); fmt.Sprint(got) != port {
		t.Errorf("containerPort %v, config listens on %s", got, port)
	}
	if dig(ctr, "readinessProbe", "httpGet", "path") != "/readyz" || dig(ctr, "livenessProbe", "httpGet", "path") != "/healthz" {
		t.Error("probes must be /readyz and /healthz")
	}
	args := dig(ctr, "args").([]any)
	if len(args) != 3 || args[0] != "run" || args[2] != dig(ctr, "volumeMounts", 0, "mountPath").(string)+"/config.yaml" {
		t.Errorf("args %v do not run the ConfigMap's config", args)
	}
	set := map[string]bool{}
	for _, e := range dig(ctr, "env").([]any) {
		set[dig(e, "name").(string)] = true
	}
	for _, name := range envRefs(cfgText) {
		if !set[name] && !strings.Contains(cfgText, "${"+name+":-") {
			t.Errorf("the ConfigMap's config needs ${%s}, which the Deployment does not set", name)
		}
	}
}
