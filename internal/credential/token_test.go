package credential_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential/credentialtest"
)

// base is the time the tests' tokens are issued at.
func base() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

func TestParseToken(t *testing.T) {
	t0 := base()
	kube := credentialtest.Token(credentialtest.Claims("downstream-a", t0, time.Hour))
	header, payload, sig := split(t, kube)
	const minimal = `{"exp":1767323045}`

	kubeClaims := credential.Claims{
		Issuer:         "https://upstream.example.com/issuer",
		Subject:        "system:serviceaccount:argocd:argocd-application-controller",
		Audience:       []string{"downstream-a"},
		Expiry:         t0.Add(time.Hour),
		IssuedAt:       t0,
		NotBefore:      t0,
		Namespace:      "argocd",
		ServiceAccount: credential.ObjectRef{Name: "argocd-application-controller", UID: "97c400e9-fd0c-4d6d-a456-79c4fe27ac39"},
		Pod:            credential.ObjectRef{Name: "argocd-application-controller-0", UID: "b38f5a1e-87c3-4009-b2c6-755d83c4283d"},
	}

	tests := []struct {
		name    string
		data    string
		want    credential.Claims
		problem credential.Problem
		errSub  string
	}{
		{
			name: "projected service-account token",
			data: kube,
			want: kubeClaims,
		},
		{name: "surrounding whitespace and newline", data: " \t\n" + kube + "\n\n", want: kubeClaims},
		{name: "only exp", data: credentialtest.Token(minimal), want: credential.Claims{Expiry: time.Unix(1767323045, 0)}},
		{name: "aud as a string", data: credentialtest.Token(`{"exp":1767323045,"aud":"one"}`),
			want: credential.Claims{Expiry: time.Unix(1767323045, 0), Audience: []string{"one"}}},
		{name: "null claims are absent", data: credentialtest.Token(`{"exp":1767323045,"aud":null,"iat":null,"iss":null,"kubernetes.io":null}`),
			want: credential.Claims{Expiry: time.Unix(1767323045, 0)}},
		{name: "fractional and exponent NumericDate rounded down", data: credentialtest.Token(`{"exp":1.7673230459e9,"iat":1767319445.99}`),
			want: credential.Claims{Expiry: time.Unix(1767323045, 0), IssuedAt: time.Unix(1767319445, 0)}},
		{name: "kubernetes.io warnafter", data: credentialtest.Token(`{"exp":1798859045,"iat":1767319445,"kubernetes.io":{"namespace":"argocd","warnafter":1767323052}}`),
			want: credential.Claims{Expiry: time.Unix(1798859045, 0), IssuedAt: time.Unix(1767319445, 0), WarnAfter: time.Unix(1767323052, 0), Namespace: "argocd"}},
		{name: "padded segments tolerated", data: header + "==." + payload + "=." + sig + "==", want: kubeClaims},
		{name: "legacy Secret token: no kubernetes.io claim", data: credentialtest.Token(`{"exp":1767323045,"iss":"kubernetes/serviceaccount","sub":"system:serviceaccount:argocd:argocd"}`),
			want: credential.Claims{Expiry: time.Unix(1767323045, 0), Issuer: "kubernetes/serviceaccount", Subject: "system:serviceaccount:argocd:argocd"}},
		{name: "kubernetes.io without a pod (kubectl create token)", data: credentialtest.Token(`{"exp":1767323045,"kubernetes.io":{"namespace":"argocd","serviceaccount":{"name":"sa","uid":"u1"}}}`),
			want: credential.Claims{Expiry: time.Unix(1767323045, 0), Namespace: "argocd", ServiceAccount: credential.ObjectRef{Name: "sa", UID: "u1"}}},
		{name: "kubernetes.io escaped keys, repeated members, unknown members", data: credentialtest.Token(`{"exp":1767323045,"kubernetes.io":{"p\u006fd":{"name":"old","uid":"x","name":"p\u00e9","extra":[1]},"node":{"name":"n"},"serviceaccount":null}}`),
			want: credential.Claims{Expiry: time.Unix(1767323045, 0), Pod: credential.ObjectRef{Name: "p\u00e9", UID: "x"}}},
		{name: "kubernetes.io null members are absent", data: credentialtest.Token(`{"exp":1767323045,"kubernetes.io":{"namespace":null,"pod":{"name":null,"uid":null}}}`),
			want: credential.Claims{Expiry: time.Unix(1767323045, 0)}},
		{name: "unknown claims ignored", data: credentialtest.Token(`{"exp":1767323045,"email":"x@example.com","groups":["a"]}`),
			want: credential.Claims{Expiry: time.Unix(1767323045, 0)}},

		{name: "empty", data: "", problem: credential.ProblemEmpty, errSub: "token is empty"},
		{name: "whitespace only", data: " \n\t\r\n", problem: credential.ProblemEmpty, errSub: "token is only whitespace"},
		{name: "oversized", data: strings.Repeat("a", credential.MaxTokenSize+1), problem: credential.ProblemTooLarge, errSub: "64 KiB"},
		{name: "at the cap is not too large", data: strings.Repeat("a", credential.MaxTokenSize), problem: credential.ProblemMalformed, errSub: "1 dot-separated segments"},
		{name: "two segments", data: header + "." + payload, problem: credential.ProblemMalformed, errSub: "2 dot-separated segments"},
		{name: "four segments", data: kube + "." + sig, problem: credential.ProblemMalformed, errSub: "4 dot-separated segments"},
		{name: "JWE has five segments", data: "a.b.c.d.e", problem: credential.ProblemMalformed, errSub: "5 dot-separated segments"},
		{name: "empty signature (alg none)", data: header + "." + payload + ".", problem: credential.ProblemMalformed, errSub: "signature segment is empty"},
		{name: "empty header", data: "." + payload + "." + sig, problem: credential.ProblemMalformed, errSub: "header segment is empty"},
		{name: "inner whitespace", data: header + "." + payload[:10] + "\n" + payload[10:] + "." + sig, problem: credential.ProblemMalformed, errSub: "byte "},
		{name: "quoted token", data: `"` + kube + `"`, problem: credential.ProblemMalformed, errSub: `byte 0 ('"')`},
		{name: "standard base64 alphabet", data: header + "." + payload + "." + sig[:10] + "+/" + sig[12:], problem: credential.ProblemMalformed, errSub: "'+'"},
		{name: "control byte", data: header + "\x00." + payload + "." + sig, problem: credential.ProblemMalformed, errSub: "0x0"},
		{name: "padding inside a segment", data: header + "." + payload[:8] + "=" + payload[8:] + "." + sig, problem: credential.ProblemMalformed, errSub: "payload segment has \"=\" before its end"},
		{name: "payload bad base64 length", data: header + ".abcde." + sig, problem: credential.ProblemMalformed, errSub: "payload segment is not base64url"},
		{name: "header not JSON", data: seg("not json") + "." + payload + "." + sig, problem: credential.ProblemMalformed, errSub: "header is not a JSON object"},
		{name: "payload not JSON", data: header + "." + seg("hello") + "." + sig, problem: credential.ProblemMalformed, errSub: "payload is not a JSON object"},
		{name: "payload JSON array", data: credentialtest.Token(`[{"exp":1767323045}]`), problem: credential.ProblemMalformed, errSub: "payload is not a JSON object"},
		{name: "payload truncated JSON", data: credentialtest.Token(`{"exp":1767323045`), problem: credential.ProblemMalformed, errSub: "payload is not a JSON object"},
		{name: "payload trailing data", data: credentialtest.Token(`{"exp":1767323045} {}`), problem: credential.ProblemMalformed, errSub: "payload is not a JSON object"},
		{name: "no exp", data: credentialtest.Token(`{"iat":1767319445,"aud":["a"]}`), problem: credential.ProblemNoExpiry, errSub: "no exp claim"},
		{name: "exp null", data: credentialtest.Token(`{"exp":null}`), problem: credential.ProblemNoExpiry, errSub: "no exp claim"},
		{name: "exp a string", data: credentialtest.Token(`{"exp":"1767323045"}`), problem: credential.ProblemMalformed, errSub: `claim "exp" is not a number`},
		{name: "exp zero", data: credentialtest.Token(`{"exp":0}`), problem: credential.ProblemMalformed, errSub: `claim "exp" is not a time`},
		{name: "exp negative", data: credentialtest.Token(`{"exp":-5}`), problem: credential.ProblemMalformed, errSub: `claim "exp" is not a time`},
		{name: "exp beyond year 9999", data: credentialtest.Token(`{"exp":1e20}`), problem: credential.ProblemMalformed, errSub: `claim "exp" is not a time`},
		{name: "iat an object", data: credentialtest.Token(`{"exp":1767323045,"iat":{}}`), problem: credential.ProblemMalformed, errSub: `claim "iat" is not a number`},
		{name: "iss a number", data: credentialtest.Token(`{"exp":1767323045,"iss":5}`), problem: credential.ProblemMalformed, errSub: `claim "iss" is not a string`},
		{name: "sub an array", data: credentialtest.Token(`{"exp":1767323045,"sub":["a"]}`), problem: credential.ProblemMalformed, errSub: `claim "sub" is not a string`},
		{name: "aud array of numbers", data: credentialtest.Token(`{"exp":1767323045,"aud":[1,2]}`), problem: credential.ProblemMalformed, errSub: `claim "aud" is neither`},
		{name: "kubernetes.io a string", data: credentialtest.Token(`{"exp":1767323045,"kubernetes.io":"x"}`), problem: credential.ProblemMalformed, errSub: `claim "kubernetes.io" is not a JSON object`},
		{name: "namespace a number", data: credentialtest.Token(`{"exp":1767323045,"kubernetes.io":{"namespace":5}}`), problem: credential.ProblemMalformed, errSub: `claim "kubernetes.io.namespace" is not a string`},
		{name: "pod a string", data: credentialtest.Token(`{"exp":1767323045,"kubernetes.io":{"pod":"p"}}`), problem: credential.ProblemMalformed, errSub: `claim "kubernetes.io.pod" is not a JSON object`},
		{name: "pod uid a number", data: credentialtest.Token(`{"exp":1767323045,"kubernetes.io":{"pod":{"name":"p","uid":1}}}`), problem: credential.ProblemMalformed, errSub: `claim "kubernetes.io.pod.uid" is not a string`},
		{name: "serviceaccount an array", data: credentialtest.Token(`{"exp":1767323045,"kubernetes.io":{"serviceaccount":[]}}`), problem: credential.ProblemMalformed, errSub: `claim "kubernetes.io.serviceaccount" is not a JSON object`},
		{name: "serviceaccount name an object", data: credentialtest.Token(`{"exp":1767323045,"kubernetes.io":{"serviceaccount":{"name":{}}}}`), problem: credential.ProblemMalformed, errSub: `claim "kubernetes.io.serviceaccount.name" is not a string`},
		{name: "warnafter a string", data: credentialtest.Token(`{"exp":1767323045,"kubernetes.io":{"warnafter":"soon"}}`), problem: credential.ProblemMalformed, errSub: `claim "warnafter" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := credential.ParseToken([]byte(tt.data))
			if tt.problem != 0 {
				var cerr *credential.Error
				if !errors.As(err, &cerr) {
					t.Fatalf("ParseToken() error = %v, want a *credential.Error", err)
				}
				if cerr.Problem != tt.problem {
					t.Errorf("ParseToken() problem = %d, want %d (%v)", cerr.Problem, tt.problem, err)
				}
				if !strings.Contains(err.Error(), tt.errSub) {
					t.Errorf("ParseToken() error = %q, want it to contain %q", err, tt.errSub)
				}
				if strings.ContainsAny(err.Error(), "\r\n") {
					t.Errorf("ParseToken() error %q is not one line", err)
				}
				if trimmed := strings.TrimSpace(tt.data); len(trimmed) > 16 && strings.Contains(err.Error(), trimmed) {
					t.Errorf("ParseToken() error contains the token")
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseToken() error = %v", err)
			}
			if tok.Raw != strings.TrimSpace(tt.data) {
				t.Errorf("ParseToken().Raw is not the trimmed input")
			}
			if diff := cmp.Diff(tt.want, tok.Claims); diff != "" {
				t.Errorf("ParseToken() claims mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClaimsServiceAccountName(t *testing.T) {
	sa := func(name string) credential.ObjectRef { return credential.ObjectRef{Name: name} }
	tests := []struct {
		name     string
		c        credential.Claims
		ns, want string
		ok       bool
	}{
		{"kubernetes.io", credential.Claims{Namespace: "argocd", ServiceAccount: sa("ctrl"), Subject: "system:serviceaccount:other:other"}, "argocd", "ctrl", true},
		{"sub when kubernetes.io is absent", credential.Claims{Subject: "system:serviceaccount:argocd:ctrl"}, "argocd", "ctrl", true},
		{"sub when kubernetes.io lacks the name", credential.Claims{Namespace: "argocd", Subject: "system:serviceaccount:argocd:ctrl"}, "argocd", "ctrl", true},
		{"a user, not a service account", credential.Claims{Subject: "alice"}, "", "", false},
		{"no namespace", credential.Claims{Subject: "system:serviceaccount::ctrl"}, "", "", false},
		{"no name", credential.Claims{Subject: "system:serviceaccount:argocd:"}, "", "", false},
		{"too many parts", credential.Claims{Subject: "system:serviceaccount:argocd:a:b"}, "", "", false},
		{"nothing", credential.Claims{}, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns, name, ok := tt.c.ServiceAccountName()
			if ns != tt.ns || name != tt.want || ok != tt.ok {
				t.Errorf("ServiceAccountName() = %q, %q, %v; want %q, %q, %v", ns, name, ok, tt.ns, tt.want, tt.ok)
			}
		})
	}
}

func TestClaimsHasAudience(t *testing.T) {
	c := credential.Claims{Audience: []string{"a", "b"}}
	for aud, want := range map[string]bool{"a": true, "b": true, "c": false, "": false} {
		if got := c.HasAudience(aud); got != want {
			t.Errorf("HasAudience(%q) = %v, want %v", aud, got, want)
		}
	}
}

// FuzzParseToken checks that no input panics, that an accepted token is the
// trimmed input with an exp, and that an error is one line without the token.
// The seed corpus is in testdata/fuzz/FuzzParseToken.
func FuzzParseToken(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := credential.ParseToken(data)
		trimmed := string(bytes.TrimSpace(data))
		if err != nil {
			var cerr *credential.Error
			if !errors.As(err, &cerr) || cerr.Problem < credential.ProblemEmpty || cerr.Problem > credential.ProblemExecInfo {
				t.Fatalf("ParseToken() error %v (%T) is not a *credential.Error with a known problem", err, err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("ParseToken() error %q is not one line", err)
			}
			if len(trimmed) >= 16 && strings.Contains(err.Error(), trimmed) {
				t.Fatalf("ParseToken() error %q contains the token", err)
			}
			return
		}
		if tok.Raw != trimmed {
			t.Fatalf("ParseToken().Raw = %q, want the trimmed input %q", tok.Raw, trimmed)
		}
		if strings.Count(tok.Raw, ".") != 2 {
			t.Fatalf("accepted %q, which has not 3 segments", tok.Raw)
		}
		if tok.Claims.Expiry.IsZero() || tok.Claims.Expiry.Nanosecond() != 0 {
			t.Fatalf("accepted a token with exp %v", tok.Claims.Expiry)
		}
		// The kubernetes.io members are what encoding/json reads.
		ns, sa, pod := kubernetesIOByEncodingJSON(t, tok.Raw)
		if got := tok.Claims; got.Namespace != ns || got.ServiceAccount != sa || got.Pod != pod {
			t.Fatalf("ParseToken() kubernetes.io = %q %+v %+v, encoding/json reads %q %+v %+v",
				got.Namespace, got.ServiceAccount, got.Pod, ns, sa, pod)
		}
		// What is accepted must encode into an ExecCredential.
		if _, err := credential.NewExecCredential(credential.APIVersionV1, tok.Raw, tok.Claims.Expiry).Marshal(); err != nil {
			t.Fatalf("Marshal() error = %v", err)
		}
	})
}

// kubernetesIOByEncodingJSON reads the namespace, serviceaccount and pod of
// the kubernetes.io claim of an accepted token with encoding/json.
func kubernetesIOByEncodingJSON(t *testing.T, raw string) (ns string, sa, pod credential.ObjectRef) {
	t.Helper()
	_, p, _ := strings.Cut(raw, ".")
	p, _, _ = strings.Cut(p, ".")
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(p, "="))
	if err != nil {
		t.Fatalf("accepted a payload that does not decode: %v", err)
	}
	var claims, kube map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	// Absent members and nulls leave the zero values, as they do in Claims.
	_ = json.Unmarshal(claims["kubernetes.io"], &kube)
	_ = json.Unmarshal(kube["namespace"], &ns)
	ref := func(v json.RawMessage) credential.ObjectRef {
		var m map[string]json.RawMessage
		var r credential.ObjectRef
		_ = json.Unmarshal(v, &m)
		_ = json.Unmarshal(m["name"], &r.Name)
		_ = json.Unmarshal(m["uid"], &r.UID)
		return r
	}
	return ns, ref(kube["serviceaccount"]), ref(kube["pod"])
}

func split(t *testing.T, tok string) (header, payload, sig string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("minted token has %d segments", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

func seg(s string) string {
	tok := credentialtest.Token(s)
	_, p, _ := strings.Cut(tok, ".")
	p, _, _ = strings.Cut(p, ".")
	return p
}
