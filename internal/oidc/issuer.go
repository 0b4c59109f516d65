package oidc

import (
	"errors"
	"fmt"
	"net/url"
)

// CheckIssuerURL checks an OpenID provider's issuer URL: https, a host, no
// user, query or fragment (OpenID Connect Discovery 1.0, section 2).
func CheckIssuerURL(issuer string) error {
	if issuer == "" {
		return errors.New("required: the provider's issuer URL, exactly as the iss claim of its tokens (https://...)")
	}
	u, err := url.Parse(issuer)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https":
		return fmt.Errorf("%q: the scheme must be https", issuer)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q has no host", issuer)
	case u.User != nil:
		return fmt.Errorf("%q: a URL with a user name or password is refused", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fmt.Errorf("%q: an issuer has no query or fragment", issuer)
	}
	return nil
}
