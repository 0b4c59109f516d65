// Package credential turns a projected service-account token into the
// ExecCredential that client-go's exec authenticator reads from a credential
// plugin's stdout.
//
// It is pure (bytes and times in, values and typed errors out), but for
// [ReadTokenFile], the one reader of token files with their size cap that
// the plugin, doctor and discovery share; and it links only
// the standard library: the binary ArgoCD executes thousands of times a day
// pays every linked package's init at start-up, so nothing from k8s.io may
// come in here. The ExecCredential is a small struct of its own, kept equal to
// client-go's clientauthentication v1 and v1beta1 types by a test.
//
// # Token decoding
//
// [ParseToken] trims surrounding whitespace, refuses more than [MaxTokenSize]
// bytes, and requires a JWS compact serialization: three non-empty
// dot-separated segments made only of base64url characters (trailing "="
// padding is tolerated, as the API server's JOSE library tolerates it); the
// header must be a JSON object, the signature valid base64url, and the
// payload a JSON object with a numeric exp. iat, nbf, iss, aud (a string or
// an array of strings), sub and kubernetes.io's warnafter, namespace,
// serviceaccount and pod ({name, uid}) are read when present. The signature
// is not verified: the API server does that.
//
// # Expiry policy
//
// client-go caches the credential until its expirationTimestamp and runs the
// plugin again on the first request after it (it adds no margin of its own).
// The kubelet replaces a projected token when it is older than 80% of its TTL
// (or 24h), but the new file only appears on the pod's next volume sync, a
// minute or two later. [Policy.Expiry] therefore computes, with all times in
// whole seconds (the precision of an RFC 3339 expirationTimestamp):
//
//	E = exp                          the token is refused (Expired) once now >= E
//	D = E - skew                     the latest expiry we hand out normally
//	S = iat, else nbf                start of the TTL, when present and before E
//	W = kubernetes.io.warnafter      end of the TTL the kubelet asked for when the
//	    if S < W < E, else E         API server extended exp beyond it
//	R = S + min(0.8*(W-S), 24h)      the kubelet's rotation point (D when S is unknown)
//	T = min(R, D)
//
//	if now < T:  expiry = T                    normal case: re-read at rotation
//	else if now < D: expiry = min(now+poll, D)  rotation overdue, file not yet
//	                                            replaced: poll gently
//	else:        expiry = min(now+poll, E)     within skew of exp: still served,
//	                                            never cached past exp
//
// with floor() to whole seconds applied to R, D and now+poll, and poll >= 1s.
// Every branch yields a time strictly after now and at or before E, and at or
// before D whenever now < D: the expiration is never in the past for a token
// that is still valid (so client-go never re-runs the plugin on every
// request), and never later than exp - skew unless the token is already
// inside that margin, in which case it is still served and expires with
// the token itself.
package credential
