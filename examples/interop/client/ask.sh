# Sends a line to the server (found by its service name) and checks the answer; retries while
# the server's listener comes up.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  answer="$(echo "hello from the client" | nc -w 5 server 7000)" && [ -n "$answer" ] && break
  sleep 0.5
done
echo "got: $answer"
[ "$answer" = "hello from the server" ]
