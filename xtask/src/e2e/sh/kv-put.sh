# shellcheck shell=dash
# Two PUTs and a DELETE of another key to the key-value store at IP, each on a connection of
# its own: prints each answer's status line (201, 201, 200).
: "${IP:?}"
req() {
  printf '%s /kv/%s HTTP/1.1\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
    "$1" "$2" "${#3}" "$3" | nc -w 5 "$IP" 80 | head -1
}
req PUT greeting 'kept across a destroy'
req PUT other x
req DELETE other
