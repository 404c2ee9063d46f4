# shellcheck shell=dash
# N requests at once to http://IP/, each its own curl: prints "ok M", M the answers that
# were the status page.
: "${IP:?}" "${N:?}"
rm -rf /tmp/c
mkdir /tmp/c
i=0
while [ $i -lt "$N" ]; do
  (curl -sS -m 60 -o /tmp/c/$i "http://$IP/" && grep -q '^requests:' /tmp/c/$i && touch /tmp/c/ok$i) &
  i=$((i + 1))
done
wait
ok=0
for f in /tmp/c/ok*; do [ -e "$f" ] && ok=$((ok + 1)); done
echo "ok $ok"
