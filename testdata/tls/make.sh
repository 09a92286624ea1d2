#!/usr/bin/env bash
# Regenerates the test PKI (run by hand; the outputs are committed): a test CA and a server
# certificate for 127.0.0.1 / localhost it issued, and a second, unrelated CA with its own server
# certificate for the same names (the "wrong certificate"). EC P-256, valid for 100 years.
set -euo pipefail
cd "$(dirname "$0")"
days=36500
mk_ca() {  # NAME
  openssl ecparam -name prime256v1 -genkey -noout -out "$1-ca.key"
  openssl req -x509 -new -key "$1-ca.key" -subj "/CN=mcpsig test $1 CA" -days $days \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$1-ca.pem"
}
mk_server() {  # CA NAME
  openssl ecparam -name prime256v1 -genkey -noout -out "$2.key.sec1"
  openssl pkcs8 -topk8 -nocrypt -in "$2.key.sec1" -out "$2.key" && rm "$2.key.sec1"
  openssl req -new -key "$2.key" -subj "/CN=127.0.0.1" -out "$2.csr"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$2.ext"
  openssl x509 -req -in "$2.csr" -CA "$1-ca.pem" -CAkey "$1-ca.key" -CAcreateserial -days $days \
    -extfile "$2.ext" -out "$2.pem"
  rm -f "$2.csr" "$2.ext" "$1-ca.srl"
  openssl x509 -in "$2.pem" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum \
    | awk '{print "sha256:" $1}' > "$2.spki"
}
mk_ca test
mk_server test server
mk_ca other
mk_server other other-server
