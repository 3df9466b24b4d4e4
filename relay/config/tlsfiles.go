package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// fileError says which key's file is wrong; the message never holds the file's content.
type fileError struct {
	key string
	err error
}

func (e *fileError) Error() string { return e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// clientTLS reads the files of a tls section. withSystem adds ca to the system roots
// instead of replacing them.
func clientTLS(ca, cert, key, serverName string, insecure, withSystem bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName, InsecureSkipVerify: insecure} //nolint:gosec // insecure is the operator's explicit choice
	if ca != "" {
		pool, err := loadCAs(ca, withSystem)
		if err != nil {
			return nil, &fileError{"ca", err}
		}
		cfg.RootCAs = pool
	}
	switch {
	case cert == "" && key == "":
	case cert == "":
		return nil, &fileError{"cert", errors.New("is required when key is set")}
	case key == "":
		return nil, &fileError{"key", errors.New("is required when cert is set")}
	default:
		if _, err := readFile(cert); err != nil {
			return nil, &fileError{"cert", err}
		}
		if _, err := readFile(key); err != nil {
			return nil, &fileError{"key", err}
		}
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			// crypto/tls's messages name the problem, never the key material.
			return nil, &fileError{"cert", fmt.Errorf("%s and %s are not a certificate and its key: %w", cert, key, err)}
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// loadCAs reads a PEM bundle of CA certificates.
func loadCAs(path string, withSystem bool) (*x509.CertPool, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if withSystem {
		if sys, err := x509.SystemCertPool(); err == nil {
			pool = sys
		}
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// maxFileBytes bounds what a key's file may hold: certificates and creds are a few KB.
const maxFileBytes = 1 << 20

// readFile reads a file a key names, with a message that says which file and why. Only a
// regular file of at most 1 MiB is read, so that /dev/zero or a FIFO cannot hang Load.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s does not exist", path)
	case err != nil:
		return nil, fmt.Errorf("cannot read %s: %w", path, pathCause(err))
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file", path)
	case fi.Size() > maxFileBytes:
		return nil, fmt.Errorf("%s is larger than 1 MiB", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, pathCause(err))
	}
	return data, nil
}

// pathCause strips the path from an *fs.PathError, since the message names it already.
func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
