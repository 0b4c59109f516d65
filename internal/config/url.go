package config

import (
	"fmt"
	"net"
	"net/url"
	pathpkg "path"
	"regexp"
	"strconv"
	"strings"
)

// The URLs of a federation (issuer, discoveryURL, servers) are accepted in
// one spelling only. None is ever rewritten: an issuer must equal the tokens'
// iss claim byte for byte, so a URL not written canonically is refused with
// the spelling to write.

// issuerNote ends the errors about upstream.issuer.
const issuerNote = " (the issuer is compared byte for byte with the tokens' iss claim and must equal the API server's --service-account-issuer, so it is never rewritten for you)"

var (
	hostName = regexp.MustCompile(`^[A-Za-z0-9.-]+$`)
	urlPath  = regexp.MustCompile(`^(/([A-Za-z0-9._~:@+=,-]|%[0-9A-Fa-f]{2})*)*$`)
)

// checkHTTPS reports whether raw is an https URL written canonically (see
// canonicalHTTPS) and records the problem otherwise. what says what the URL
// is; note ends the error.
func checkHTTPS(errs *Errors, p, raw, what, note string) bool {
	if raw == "" {
		errs.add(p, "is required: %s (https://...)", what)
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		errs.add(p, "%q is not a URL; expected %s, https://host[:port][/path]", raw, what)
		return false
	}
	if u.Scheme != "https" {
		errs.add(p, "%q uses %s; only https is accepted (tokens and trust must never cross plain HTTP)", raw, u.Scheme)
		return false
	}
	canonical, problems := canonicalHTTPS(raw)
	if len(problems) == 0 {
		return true
	}
	msg := fmt.Sprintf("%q is not a canonical https URL: %s", raw, strings.Join(problems, "; "))
	if canonical != "" {
		msg += fmt.Sprintf("; write %q", canonical)
	}
	errs.add(p, "%s%s", msg, note)
	return false
}

// canonicalHTTPS checks raw, an https URL, against the one spelling this tool
// accepts: the scheme https in lower case; no user info, query or fragment
// (not even an empty "?" or "#"); a host of ASCII letters, digits, '-' and
// '.', or an IPv6 address in brackets; a port, if any, from 1 to 65535
// without leading zeros; a path of letters, digits, %-escapes and
// - . _ ~ : @ + = , / that is clean (no "//", "." or ".." segments; a
// trailing slash is kept). It returns what is wrong and, when it can be
// derived, the spelling to write.
func canonicalHTTPS(raw string) (canonical string, problems []string) {
	const scheme = "https://"
	if len(raw) < len(scheme) || !strings.EqualFold(raw[:len(scheme)], scheme) {
		return "", []string{"it must start with https://"}
	}
	if raw[:len(scheme)] != scheme {
		problems = append(problems, "the scheme must be written in lower case")
	}
	rest := raw[len(scheme):]
	derivable := true
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		if strings.Contains(rest[i:], "?") {
			problems = append(problems, `it must not carry a query (not even an empty "?")`)
		}
		if strings.Contains(rest[i:], "#") {
			problems = append(problems, `it must not carry a fragment (not even an empty "#")`)
		}
		rest = rest[:i]
	}
	authority, urlpath := rest, ""
	if i := strings.Index(rest, "/"); i >= 0 {
		authority, urlpath = rest[:i], rest[i:]
	}
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		problems = append(problems, "it must not carry user info (user@)")
		authority = authority[i+1:]
	}
	host, port := authority, ""
	hasPort := false
	if strings.HasPrefix(authority, "[") {
		end := strings.Index(authority, "]")
		if end < 0 || net.ParseIP(authority[1:end]) == nil || strings.Contains(authority[1:end], "%") {
			problems = append(problems, "the host in brackets must be an IPv6 address (without a zone)")
			derivable = false
		} else {
			host, port = authority[:end+1], authority[end+1:]
			if port != "" {
				if !strings.HasPrefix(port, ":") {
					problems = append(problems, "the host in brackets must be followed by nothing or :port")
					derivable = false
				}
				port, hasPort = port[1:], true
			}
		}
	} else {
		host, port, hasPort = strings.Cut(authority, ":")
		if !hostName.MatchString(host) {
			problems = append(problems, "the host may hold only ASCII letters, digits, '-' and '.' (an internationalized name in its xn-- form)")
			derivable = false
		}
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		switch {
		case err != nil || n < 1 || n > 65535:
			problems = append(problems, fmt.Sprintf("the port must be a number from 1 to 65535, not %q", port))
			derivable = false
		case port != strconv.Itoa(n):
			problems = append(problems, "the port must be written without leading zeros")
		}
		if derivable {
			host += ":" + strconv.Itoa(n)
		}
	}
	if !urlPath.MatchString(urlpath) {
		problems = append(problems, "the path may hold only ASCII letters, digits, %-escapes and - . _ ~ : @ + = , /")
		derivable = false
	} else if clean := cleanURLPath(urlpath); clean != urlpath {
		problems = append(problems, `the path must be clean (no "//", "/./" or "/../", no trailing "/." or "/..")`)
		urlpath = clean
	}
	if !derivable {
		return "", problems
	}
	return scheme + host + urlpath, problems
}

// cleanURLPath removes empty, "." and ".." segments of an absolute URL path,
// keeping a trailing slash (and the one that "/." or "/.." implies).
func cleanURLPath(p string) string {
	if p == "" {
		return ""
	}
	dir := strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")
	c := pathpkg.Clean(p)
	if dir && c != "/" {
		c += "/"
	}
	return c
}

// isInClusterHost reports URLs that name a cluster's own API server.
func isInClusterHost(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	return h == "kubernetes" || h == "kubernetes.default" || strings.HasPrefix(h, "kubernetes.default.svc")
}

// urlKey is what makes two https URLs the same endpoint, for duplicate
// detection: the letter case of the host, a trailing dot after it, an
// explicit :443 and a trailing slash make no difference.
func urlKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = "443"
	}
	return strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")) + ":" + port + strings.TrimRight(u.Path, "/")
}

// IsInClusterServer reports a server URL that names the cluster's own API
// server (https://kubernetes.default.svc and its spellings): ArgoCD reaches
// it with its in-cluster credentials, never through an exec config.
func IsInClusterServer(raw string) bool { return isInClusterHost(raw) }

// ServerKey is what makes two server URLs the same endpoint (the letter
// case of the host, a trailing dot, :443 and a trailing slash make no
// difference); "" when raw is not a URL with a host.
func ServerKey(raw string) string { return urlKey(raw) }
