#!/bin/sh
# curl as a tus 1.0 client, by hand: the creation (POST), then the whole
# file in one PATCH. bench/run.sh's upload section and bench/yield.sh's
# upload shape run it:
#
#   sh bench/tus_curl.sh FILE LENGTH CREATION_URL [CURL_ARGS...]
#
# LENGTH is the upload's length (FILE's size); CURL_ARGS go to both
# requests. Exits with curl's status; prints nothing but errors.
set -e
file=$1 length=$2 url=$3
shift 3
loc=$(curl -sS --fail "$@" -X POST -H "Tus-Resumable: 1.0.0" -H "Upload-Length: $length" \
    -o /dev/null -w "%header{location}" "$url")
[ -n "$loc" ] || { echo "tus_curl: no Location from $url" >&2; exit 1; }
exec curl -sS --fail "$@" -T "$file" -X PATCH -H "Tus-Resumable: 1.0.0" -H "Upload-Offset: 0" \
    -H "Content-Type: application/offset+octet-stream" -o /dev/null "$loc"
