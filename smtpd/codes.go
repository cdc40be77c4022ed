package smtpd

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/emersion/go-smtp"

	"github.com/mailgate/mailgate/ingest"
)

// Every reply of SPEC §2 is in this file. Each rejection has an RFC 3463 code and a sentence
// a human understands.

// Rule 1: never an open relay.
var errNotSupport = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
	Message: "No such support address here; this server only accepts mail for its support addresses"}

// errSmuggling refuses a message with a "." line ended by a bare CR or LF.
var errSmuggling = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
	Message: "Message refused: a line holding only \".\" with a bare CR or LF (SMTP smuggling); send CRLF line ends"}

// tempFail is rule 3: our store failed, the sending MTA keeps the message and retries.
func tempFail(ref string) error {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Temporary failure storing the message, please try again later (" + ref + ")"}
}

// rejection maps a handler's refusal to its reply.
func rejection(r ingest.Result) error {
	switch r.Reason {
	case "no_from": // rule 4
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
			Message: "Message refused: " + r.Detail}
	case "not_in_to": // rule 5
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: "support address must be in To:"}
	case "no_account": // rule 7
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: "no active support account"}
	case "loop": // SPEC §4: too many Received: headers
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 4, 6},
			Message: "Routing loop detected: too many Received headers"}
	case "header_too_big":
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
			Message: "Message header too large"}
	}
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Message refused"}
}

func newRef() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
