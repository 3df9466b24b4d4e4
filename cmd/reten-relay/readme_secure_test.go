package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/reten/reten-relay/relay/config"
	"github.com/reten/reten-relay/relay/relaytest"
)

// TestREADME_ConnectingSecurelyExamplesLoad loads each YAML example of "Connecting
// securely", with its /etc/reten-relay/ files replaced by real ones.
func TestREADME_ConnectingSecurelyExamplesLoad(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(raw)
	start := strings.Index(section, "### Connecting securely")
	if start < 0 {
		t.Fatal(`README has no "Connecting securely" section`)
	}
	section = section[start:]
	section = section[:strings.Index(section, "### Configuration")]
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) != 3 {
		t.Fatalf("want one example per broker (nats, kafka, reten), got %d", len(blocks))
	}
	pki := relaytest.NewPKI(t)
	files := map[string]string{"ca.pem": pki.CAFile, "corp-proxy-ca.pem": pki.CAFile, "nats.creds": testCreds(t)}
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"RETEN_API_KEY": "rtn_sk_readme", "KAFKA_PASSWORD": "pw"}[k]
		return v, ok
	}
	for i, b := range blocks {
		doc := regexp.MustCompile(`/etc/reten-relay/([a-z.-]+)`).ReplaceAllStringFunc(b[1], func(p string) string {
			return files[filepath.Base(p)]
		})
		if _, err := config.Load("README.md", []byte(doc), env); err != nil {
			t.Errorf("example %d does not load:\n%s\n%v", i+1, b[1], err)
		}
	}
}

// testCreds writes a creds file for a user of a throwaway account.
func testCreds(t *testing.T) string {
	t.Helper()
	acc, _ := nkeys.CreateAccount()
	user, _ := nkeys.CreateUser()
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	tok, err := jwt.NewUserClaims(pub).Encode(acc)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := jwt.FormatUserConfig(tok, seed)
	p := filepath.Join(t.TempDir(), "nats.creds")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
