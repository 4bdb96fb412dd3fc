#!/bin/sh
# fetch-verified URL OUT ALGO EXPECTED PUBLISHED
# Downloads URL to OUT and checks its ALGO (sha512 or sha256) digest. EXPECTED is a pinned hex digest;
# when empty, the digest the publisher posts next to the file is used instead: PUBLISHED is
# "apache-sha512" (URL.sha512 in Apache's format, either `gpg --print-md` or `sha512sum` style) or
# "maven-sha1" (URL.sha1 of Maven Central, checked with sha1sum). Any mismatch fails the build.
set -eu
url=$1 out=$2 algo=$3 expected=$4 published=$5
curl -fsSL --retry 3 --proto '=https' -o "$out" "$url"
if [ -n "$expected" ]; then
  echo "$(echo "$expected" | tr 'A-F' 'a-f')  $out" | "${algo}sum" -c -
  exit 0
fi
echo "WARNING: no pinned ${algo} for $url; verifying against the publisher's checksum (pin it in lib/msk-rollback/mm2-image.ts)" >&2
case "$published" in
  apache-sha512)
    raw=$(curl -fsSL --retry 3 --proto '=https' "$url.sha512")
    case "$raw" in
      *:*) digest=$(printf '%s' "$raw" | tr -d ' \n\r\t' | sed 's/^[^:]*://') ;;
      *) digest=$(printf '%s' "$raw" | awk '{print $1}') ;;
    esac
    echo "$(echo "$digest" | tr 'A-F' 'a-f')  $out" | sha512sum -c -
    ;;
  maven-sha1)
    digest=$(curl -fsSL --retry 3 --proto '=https' "$url.sha1" | awk '{print $1}')
    echo "$digest  $out" | sha1sum -c -
    ;;
  *)
    echo "no checksum for $url" >&2
    exit 1
    ;;
esac
echo "computed ${algo}: $("${algo}sum" "$out" | awk '{print $1}')" >&2
