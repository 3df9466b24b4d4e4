package embeddednats_test

import (
	"errors"
	"net"
	"testing"

	"github.com/reten/reten-relay/sinks/embeddednats"
)

func TestStart_APortInUseSaysSoAtOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = embeddednats.Start(embeddednats.Options{Port: port, StoreDir: t.TempDir()})
	if !errors.Is(err, embeddednats.ErrPortInUse) {
		t.Fatalf("Start on a busy port = %v, want ErrPortInUse", err)
	}
}
