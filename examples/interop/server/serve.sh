# Answers one line on port 7000, then exits 0 once it was asked "hello".
echo "listening on 7000"
request="$(echo "hello from the server" | nc -l -p 7000)"
echo "got: $request"
[ "$request" = "hello from the client" ]
