# shellcheck shell=dash
# N requests one after the other on one keep-alive connection to http://IP/ (curl reuses it
# only if every answer's framing is right): prints "ok M, connections C", M the 200 answers
# and C the connections curl opened.
: "${IP:?}" "${N:?}"
set --
i=0
while [ $i -lt "$N" ]; do
  set -- "$@" -o /dev/null "http://$IP/"
  i=$((i + 1))
done
curl -sS -m 120 -w '%{http_code} %{num_connects}\n' "$@" > /tmp/seq
echo "ok $(grep -c '^200 ' /tmp/seq), connections $(awk '{n+=$2} END {print n}' /tmp/seq)"
