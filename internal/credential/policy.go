package credential

import (
	"errors"
	"time"
)

// Policy holds the constants of the expiry policy (see the package
// documentation). The zero value is not useful; start from DefaultPolicy.
type Policy struct {
	// Skew is how long before exp the credential normally expires, so that a
	// request in flight is not refused because the token ran out on the way.
	Skew time.Duration
	// PollInterval is how long a credential stays cached once its token is
	// past its rotation point: client-go re-runs the plugin at this interval
	// until the kubelet has written the new token. At least one second.
	PollInterval time.Duration
	// RotationFraction is the fraction of the TTL after which the kubelet
	// replaces a projected token (0.8).
	RotationFraction float64
	// MaxRotationAge is the age after which the kubelet replaces a projected
	// token whatever its TTL (24h).
	MaxRotationAge time.Duration
}

// DefaultPolicy is the policy for kubelet-projected tokens.
func DefaultPolicy() Policy {
	return Policy{
		Skew:             10 * time.Second,
		PollInterval:     30 * time.Second,
		RotationFraction: 0.8,
		MaxRotationAge:   24 * time.Hour,
	}
}

// Validate reports a policy that cannot honour the package's guarantees.
func (p Policy) Validate() error {
	var errs []error
	if p.Skew < 0 {
		errs = append(errs, errors.New("skew must not be negative"))
	}
	if p.PollInterval < time.Second {
		errs = append(errs, errors.New("poll interval must be at least 1s"))
	}
	if !(p.RotationFraction > 0 && p.RotationFraction <= 1) {
		errs = append(errs, errors.New("rotation fraction must be in (0, 1]"))
	}
	if p.MaxRotationAge <= 0 {
		errs = append(errs, errors.New("max rotation age must be positive"))
	}
	return errors.Join(errs...)
}

// Expiry returns the expirationTimestamp for a credential carrying a token
// with claims c, at time now, in whole seconds. It fails with ProblemExpired
// when the token has expired. The policy must be valid.
func (p Policy) Expiry(c Claims, now time.Time) (time.Time, error) {
	exp := c.Expiry.Truncate(time.Second)
	if exp.IsZero() {
		return time.Time{}, newError(ProblemNoExpiry, "token has no exp claim")
	}
	if !now.Before(exp) {
		return time.Time{}, &Error{
			Problem: ProblemExpired,
			Msg: "token expired at " + exp.UTC().Format(time.RFC3339) +
				" (" + now.Sub(exp).Truncate(time.Second).String() + " ago)",
		}
	}
	deadline := exp.Add(-p.Skew).Truncate(time.Second)
	target := deadline
	if _, r, ok := p.Rotation(c); ok && r.Before(target) {
		target = r
	}
	if target.After(now) {
		return target, nil
	}
	poll := now.Add(p.PollInterval).Truncate(time.Second)
	if deadline.After(now) {
		return earliest(poll, deadline), nil
	}
	return earliest(poll, exp), nil
}

// Rotation returns when the kubelet replaces a token with claims c (R of the
// package documentation), and the start of its TTL it counts from (S): iat,
// else nbf. ok is false when the claims do not say (no usable start, or no
// exp).
func (p Policy) Rotation(c Claims) (start, due time.Time, ok bool) {
	exp := c.Expiry.Truncate(time.Second)
	if exp.IsZero() {
		return time.Time{}, time.Time{}, false
	}
	start = c.IssuedAt
	if start.IsZero() || !start.Before(exp) {
		start = c.NotBefore
	}
	if start.IsZero() || !start.Before(exp) {
		return time.Time{}, time.Time{}, false
	}
	end := exp
	if w := c.WarnAfter; start.Before(w) && w.Before(exp) {
		end = w
	}
	age := time.Duration(float64(end.Sub(start)) * p.RotationFraction)
	if age > p.MaxRotationAge {
		age = p.MaxRotationAge
	}
	return start, start.Add(age).Truncate(time.Second), true
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
