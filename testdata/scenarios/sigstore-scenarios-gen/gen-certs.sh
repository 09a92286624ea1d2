#!/bin/bash
# Makes the small certificate fixtures in certs/ for tests/sigstore_certs.rs (run once, by hand;
# tests only read the output). Needs openssl. Private keys are thrown away.
set -euo pipefail
cd "$(dirname "$0")/certs"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
key() { openssl ecparam -genkey -name prime256v1 -noout -out "$tmp/$1.key"; }
ext() { printf '%s\n' "$@" > "$tmp/ext.cnf"; }

key root
ext "basicConstraints=critical,CA:TRUE" "keyUsage=critical,keyCertSign,cRLSign"
openssl req -x509 -new -key "$tmp/root.key" -subj "/O=mcpsig test/CN=test root" -days 36500 \
  -set_serial 1 -extensions v3 -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3]\n'; cat "$tmp/ext.cnf") \
  -outform DER -out root.der

key other
openssl req -x509 -new -key "$tmp/other.key" -subj "/O=mcpsig test/CN=test root" -days 36500 \
  -set_serial 2 -extensions v3 -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3]\n'; cat "$tmp/ext.cnf") \
  -outform DER -out other-root-same-name.der

leaf() { # name, extension lines...
  local name=$1; shift
  key "$name"
  openssl req -new -key "$tmp/$name.key" -subj "/" -out "$tmp/$name.csr" 2>/dev/null
  ext "$@"
  openssl x509 -req -in "$tmp/$name.csr" -CA root.der -CAform DER -CAkey "$tmp/root.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 3650 -extfile "$tmp/ext.cnf" -outform DER -out "$name.der" 2>/dev/null
}
SAN="subjectAltName=critical,URI:https://example.com/signer"
leaf leaf-ok "keyUsage=critical,digitalSignature" "extendedKeyUsage=codeSigning" "$SAN"
leaf leaf-no-eku "keyUsage=critical,digitalSignature" "$SAN"
leaf leaf-wrong-eku "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" "$SAN"
leaf leaf-no-digital-signature "keyUsage=critical,keyEncipherment" "extendedKeyUsage=codeSigning" "$SAN"
leaf leaf-is-ca "basicConstraints=critical,CA:TRUE" "keyUsage=critical,digitalSignature" "extendedKeyUsage=codeSigning" "$SAN"
ls -l
