#!/usr/bin/env bash
# The sequential curl loop of the benchmark (test/bench/bench.py runs it):
# one curl process a page, each page's request built from the previous
# answer, exactly the bodies wix_admin sends.
#
#   WIX_BENCH_TOKEN=<access token> curl_loop.sh orders|members BASE_URL
#
# orders:  POST /ecom/v1/orders/search with the status filter and
#          cursorPaging limit 100, then the cursor alone, until no next cursor.
# members: POST /members/v1/members/query, fieldsets FULL, createdDate ASC,
#          paging offset/limit 100, until metadata.total.
# Prints "pages=N transfer_s=S": S is the sum of curl's own time_total,
# i.e. the loop's time without starting the curl processes.
set -euo pipefail
resource=$1
base=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
umask 077
printf 'Authorization: %s\nContent-Type: application/json\n' "$WIX_BENCH_TOKEN" >"$tmp/headers"

pages=0
times=()
fetch() { # url body -> $tmp/page, appends curl's time_total
  times+=("$(curl -sS --fail -o "$tmp/page" -w '%{time_total}' -X POST \
              -H @"$tmp/headers" --data-binary "$2" "$1")")
  pages=$((pages + 1))
}

if [ "$resource" = orders ]; then
  url="$base/ecom/v1/orders/search"
  body='{"search":{"filter":{"status":{"$in":["APPROVED","CANCELED","PENDING","REJECTED"]}},"cursorPaging":{"limit":100}}}'
  re='"cursors":\{"next":"([^"]+)"'
  while :; do
    fetch "$url" "$body"
    meta=$(tail -c 2048 "$tmp/page")
    [[ $meta =~ $re ]] || break
    body='{"search":{"cursorPaging":{"limit":100,"cursor":"'"${BASH_REMATCH[1]}"'"}}}'
  done
else
  url="$base/members/v1/members/query"
  re='"total":([0-9]+)'
  offset=0
  while :; do
    fetch "$url" '{"fieldsets":["FULL"],"query":{"sorting":[{"fieldName":"createdDate","order":"ASC"}],"paging":{"limit":100,"offset":'"$offset"'}}}'
    meta=$(tail -c 2048 "$tmp/page")
    [[ $meta =~ $re ]] || { echo "no total in the members answer" >&2; exit 1; }
    offset=$((offset + 100))
    [ "$offset" -lt "${BASH_REMATCH[1]}" ] || break
  done
fi
printf '%s\n' "${times[@]}" | awk -v p="$pages" '{ s += $1 } END { printf "pages=%d transfer_s=%.4f\n", p, s }'
