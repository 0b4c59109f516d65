// Command floor is the benchmark's lower bound for a credential plugin: a
// minimal static Go program that only reads the token file, decodes exp and
// prints the ExecCredential. No flags, no KUBERNETES_EXEC_INFO, no checks
// beyond what it needs to not crash. Usage: floor TOKEN-FILE.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		os.Stderr.WriteString("usage: floor TOKEN-FILE\n")
		os.Exit(1)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	token := bytes.TrimSpace(data)
	parts := bytes.Split(token, []byte("."))
	if len(parts) != 3 {
		os.Stderr.WriteString("not a JWT\n")
		os.Exit(1)
	}
	payload, err := base64.RawURLEncoding.DecodeString(string(parts[1]))
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	expiry := time.Unix(claims.Exp, 0).Add(-10 * time.Second).UTC().Format(time.RFC3339)
	os.Stdout.WriteString(`{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"expirationTimestamp":"` +
		expiry + `","token":"` + string(token) + "\"}}\n")
}
