package credential_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/argocd-k8s-federate/argocd-k8s-federate/internal/credential"
)

func TestPolicyExpiry(t *testing.T) {
	t0 := base()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	s := time.Second
	hour := credential.Claims{IssuedAt: t0, Expiry: at(time.Hour)} // rotation at +48m, deadline at +59m50s
	def := credential.DefaultPolicy()
	withSkew := func(d time.Duration) credential.Policy { p := def; p.Skew = d; return p }

	tests := []struct {
		name   string
		policy credential.Policy
		claims credential.Claims
		now    time.Time
		want   time.Time
		errSub string
	}{
		// Normal case: re-run at the kubelet's rotation point.
		{name: "fresh 1h token expires at 80% of its TTL", claims: hour, now: at(s), want: at(48 * time.Minute)},
		{name: "fresh 600s token (the kubelet's minimum)", claims: credential.Claims{IssuedAt: t0, Expiry: at(600 * s)}, now: t0, want: at(480 * s)},
		{name: "just before the rotation point", claims: hour, now: at(48*time.Minute - time.Millisecond), want: at(48 * time.Minute)},
		{name: "rotation point is rounded down to whole seconds", claims: credential.Claims{IssuedAt: t0, Expiry: at(607 * s)}, now: t0, want: at(485 * s)},
		{name: "nbf starts the TTL when iat is absent", claims: credential.Claims{NotBefore: t0, Expiry: at(time.Hour)}, now: t0, want: at(48 * time.Minute)},
		{name: "iat wins over nbf", claims: credential.Claims{IssuedAt: t0, NotBefore: at(-time.Hour), Expiry: at(time.Hour)}, now: t0, want: at(48 * time.Minute)},
		{name: "no iat nor nbf: exp minus skew", claims: credential.Claims{Expiry: at(time.Hour)}, now: t0, want: at(time.Hour - 10*s)},
		{name: "iat after exp is ignored", claims: credential.Claims{IssuedAt: at(2 * time.Hour), Expiry: at(time.Hour)}, now: t0, want: at(time.Hour - 10*s)},
		{name: "iat in the future (node clock behind)", claims: credential.Claims{IssuedAt: at(5 * s), Expiry: at(605 * s)}, now: t0, want: at(485 * s)},
		{name: "skew caps the rotation point of a short token", claims: credential.Claims{IssuedAt: t0, Expiry: at(40 * s)}, now: t0, want: at(30 * s)},
		{name: "zero skew without iat: exp itself", policy: withSkew(0), claims: credential.Claims{Expiry: at(time.Hour)}, now: t0, want: at(time.Hour)},
		{name: "kubelet rotates after 24h whatever the TTL", claims: credential.Claims{IssuedAt: t0, Expiry: at(48 * time.Hour)}, now: t0, want: at(24 * time.Hour)},
		{name: "warnafter is the TTL the kubelet asked for (extended exp)",
			claims: credential.Claims{IssuedAt: t0, Expiry: at(365 * 24 * time.Hour), WarnAfter: at(3607 * s)}, now: t0, want: at(2885 * s)},
		{name: "warnafter after exp is ignored",
			claims: credential.Claims{IssuedAt: t0, Expiry: at(time.Hour), WarnAfter: at(2 * time.Hour)}, now: t0, want: at(48 * time.Minute)},
		{name: "fractional exp is rounded down", claims: credential.Claims{Expiry: at(time.Hour + 900*time.Millisecond)}, now: t0, want: at(time.Hour - 10*s)},

		// Rotation overdue, the kubelet has not written the new file yet: poll.
		{name: "at the rotation point: poll", claims: hour, now: at(48 * time.Minute), want: at(48*time.Minute + 30*s)},
		{name: "past the rotation point, fractional now rounded down", claims: hour, now: at(50*time.Minute + 700*time.Millisecond), want: at(50*time.Minute + 30*s)},
		{name: "poll never passes exp minus skew", claims: hour, now: at(59*time.Minute + 35*s), want: at(time.Hour - 10*s)},
		{name: "a moment before exp minus skew", claims: hour, now: at(time.Hour - 10*s - time.Millisecond), want: at(time.Hour - 10*s)},
		{name: "custom poll interval", policy: credential.Policy{Skew: s, PollInterval: s, RotationFraction: 0.8, MaxRotationAge: 24 * time.Hour},
			claims: credential.Claims{IssuedAt: t0, Expiry: at(10 * s)}, now: at(8*s + 200*time.Millisecond), want: at(9 * s)},
		{name: "skew caps a short token, past its deadline: expires with it",
			claims: credential.Claims{IssuedAt: t0, Expiry: at(40 * s)}, now: at(31 * s), want: at(40 * s)},

		// Inside the skew margin: still served, never cached past exp.
		{name: "at exp minus skew: expires with the token", claims: hour, now: at(time.Hour - 10*s), want: at(time.Hour)},
		{name: "a millisecond before exp", claims: hour, now: at(time.Hour - time.Millisecond), want: at(time.Hour)},
		{name: "skew larger than the poll interval: poll inside the margin", policy: withSkew(2 * time.Minute),
			claims: hour, now: at(58*time.Minute + 30*s), want: at(59 * time.Minute)},

		// Expired.
		{name: "at exp", claims: hour, now: at(time.Hour), errSub: "token expired at 2026-01-02T04:04:05Z (0s ago)"},
		{name: "long after exp", claims: hour, now: at(time.Hour + 5*time.Minute + 500*time.Millisecond), errSub: "(5m0s ago)"},
		{name: "no exp", claims: credential.Claims{IssuedAt: t0}, now: t0, errSub: "no exp claim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.policy
			if p == (credential.Policy{}) {
				p = def
			}
			if err := p.Validate(); err != nil {
				t.Fatalf("policy invalid: %v", err)
			}
			got, err := p.Expiry(tt.claims, tt.now)
			if tt.errSub != "" {
				var cerr *credential.Error
				if !errors.As(err, &cerr) || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("Expiry() = %v, %v; want a *credential.Error containing %q", got, err, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatalf("Expiry() error = %v", err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("Expiry() = %v, want %v (now %v)", got.UTC(), tt.want, tt.now)
			}
			checkExpiryInvariants(t, p, tt.claims, tt.now, got)
		})
	}
}

func TestPolicyExpiryProblem(t *testing.T) {
	c := credential.Claims{Expiry: base()}
	_, err := credential.DefaultPolicy().Expiry(c, base())
	var cerr *credential.Error
	if !errors.As(err, &cerr) || cerr.Problem != credential.ProblemExpired {
		t.Fatalf("Expiry() error = %v, want ProblemExpired", err)
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*credential.Policy)
		errSub string
	}{
		{name: "default", mutate: func(*credential.Policy) {}},
		{name: "negative skew", mutate: func(p *credential.Policy) { p.Skew = -time.Second }, errSub: "skew must not be negative"},
		{name: "poll under a second", mutate: func(p *credential.Policy) { p.PollInterval = 999 * time.Millisecond }, errSub: "at least 1s"},
		{name: "fraction zero", mutate: func(p *credential.Policy) { p.RotationFraction = 0 }, errSub: "rotation fraction"},
		{name: "fraction above one", mutate: func(p *credential.Policy) { p.RotationFraction = 1.5 }, errSub: "rotation fraction"},
		{name: "max age zero", mutate: func(p *credential.Policy) { p.MaxRotationAge = 0 }, errSub: "max rotation age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := credential.DefaultPolicy()
			tt.mutate(&p)
			err := p.Validate()
			if tt.errSub == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errSub) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.errSub)
			}
		})
	}
}

// FuzzPolicyExpiry checks the guarantees of the policy on arbitrary claims,
// times and constants.
func FuzzPolicyExpiry(f *testing.F) {
	f.Add(int64(0), int64(3600), int64(0), int64(0), int64(1_000_000_000), int64(10_000), int64(30_000), uint16(800))
	f.Add(int64(0), int64(600), int64(-1), int64(0), int64(479_999_999_999), int64(10_000), int64(30_000), uint16(800))
	f.Add(int64(0), int64(10), int64(0), int64(0), int64(8_300_000_000), int64(1_000), int64(1_000), uint16(800))
	f.Add(int64(-1), int64(3600), int64(0), int64(3607), int64(3_595_000_000_000), int64(120_000), int64(1_000), uint16(1000))
	f.Fuzz(func(t *testing.T, iat, exp, nbf, warn, nowNanos, skewMillis, pollMillis int64, fractionPermille uint16) {
		t0 := base()
		sec := func(v int64) time.Time {
			if v < 0 {
				return time.Time{}
			}
			return t0.Add(time.Duration(v%(1<<32)) * time.Second)
		}
		c := credential.Claims{IssuedAt: sec(iat), Expiry: sec(exp), NotBefore: sec(nbf), WarnAfter: sec(warn)}
		p := credential.Policy{
			Skew:             time.Duration(skewMillis%(1<<40)) * time.Millisecond,
			PollInterval:     time.Duration(pollMillis%(1<<40)) * time.Millisecond,
			RotationFraction: float64(fractionPermille) / 1000,
			MaxRotationAge:   24 * time.Hour,
		}
		if p.Validate() != nil || c.Expiry.IsZero() {
			return
		}
		now := t0.Add(time.Duration(nowNanos))
		got, err := p.Expiry(c, now)
		if !now.Before(c.Expiry) {
			var cerr *credential.Error
			if !errors.As(err, &cerr) || cerr.Problem != credential.ProblemExpired {
				t.Fatalf("Expiry() = %v, %v; want ProblemExpired", got, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Expiry() error = %v", err)
		}
		checkExpiryInvariants(t, p, c, now, got)
	})
}

// checkExpiryInvariants asserts the guarantees of the package documentation.
func checkExpiryInvariants(t *testing.T, p credential.Policy, c credential.Claims, now, got time.Time) {
	t.Helper()
	exp := c.Expiry.Truncate(time.Second)
	deadline := exp.Add(-p.Skew)
	switch {
	case got.Nanosecond() != 0:
		t.Errorf("Expiry() = %v is not a whole second", got)
	case !got.After(now):
		t.Errorf("Expiry() = %v is not after now %v: client-go would run the plugin on every request", got, now)
	case got.After(exp):
		t.Errorf("Expiry() = %v is after exp %v", got, exp)
	case now.Before(deadline.Truncate(time.Second)) && got.After(deadline):
		t.Errorf("Expiry() = %v is after exp - skew %v", got, deadline)
	}
}
