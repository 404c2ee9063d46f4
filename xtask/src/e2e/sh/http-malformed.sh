# shellcheck shell=dash
# A request line that is not HTTP, to IP's port 80: the answer must be 400.
: "${IP:?}"
printf 'GET / HTTP/1.1 extra\r\n\r\n' | nc -w 5 "$IP" 80
