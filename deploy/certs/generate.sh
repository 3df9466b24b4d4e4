#!/bin/sh
# One-off: a throwaway CA and a certificate for the compose NATS server (names nats,
# localhost, 127.0.0.1), for docker-compose.secure.yaml. Run from the repository root:
#   sh deploy/certs/generate.sh
# It writes ca.pem, nats.pem and nats.key next to itself (git ignores them). For anything
# but a local trial, use certificates from your own CA.
set -eu
dir=$(dirname "$0")
cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/CN=reten-relay throwaway CA" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=nats" -keyout nats.key -out nats.csr 2>/dev/null
printf 'subjectAltName=DNS:nats,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > nats.ext
openssl x509 -req -in nats.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 \
  -extfile nats.ext -out nats.pem 2>/dev/null
rm -f nats.csr nats.ext ca.srl ca.key
# The NATS container runs as a non-root user and must read its key.
chmod 644 ca.pem nats.pem nats.key
echo "wrote $(pwd)/ca.pem, nats.pem, nats.key"
