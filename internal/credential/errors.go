package credential

// Problem classifies what is wrong with a token or a request, so that a
// caller can phrase the remedy for its audience (a file, a flag, a mount).
type Problem int

const (
	// ProblemEmpty: the token file is empty or holds only whitespace.
	ProblemEmpty Problem = iota + 1
	// ProblemTooLarge: the token file is larger than MaxTokenSize.
	ProblemTooLarge
	// ProblemMalformed: the content is not a JWT (segments, characters,
	// base64url, JSON of the header or payload, type of a claim).
	ProblemMalformed
	// ProblemNoExpiry: the payload has no exp claim.
	ProblemNoExpiry
	// ProblemExpired: exp is not after now.
	ProblemExpired
	// ProblemAudience: aud does not contain the expected audience.
	ProblemAudience
	// ProblemIssuer: iss is not the expected issuer.
	ProblemIssuer
	// ProblemExecInfo: KUBERNETES_EXEC_INFO is malformed or asks for an
	// unsupported apiVersion.
	ProblemExecInfo
)

// Error is the error of this package. Its message is lowercase, one line and
// never contains the token.
type Error struct {
	Problem Problem
	Msg     string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func newError(p Problem, msg string) *Error { return &Error{Problem: p, Msg: msg} }
