package mail

import "testing"

func TestStripQuotes(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"gmail one line", "Yes.\n\nOn Mon, Nov 23, 2026 at 9:00 AM Support <s@x.example> wrote:\n> old", "Yes."},
		{"gmail folded attribution", "Yes.\n\nOn Mon, Nov 23, 2026 at 9:00 AM Example Support <support@example.com>\nwrote:\n\n> old", "Yes."},
		{"gmail french", "Oui.\n\nLe lun. 23 nov. 2026 à 09:00, Support <s@x.example> a écrit :\n> ancien", "Oui."},
		{"outlook english", "Done.\n\nFrom: Support <s@x.example>\nSent: Monday, November 23, 2026 9:00 AM\nTo: me\nSubject: x\n\nold", "Done."},
		{"outlook french", "Fait.\n\nDe : Support <s@x.example>\nEnvoyé : lundi 23 novembre 2026 09:00\nÀ : moi\nObjet : x\n\nancien", "Fait."},
		{"outlook original message", "Ok.\n\n-----Original Message-----\nFrom: s@x.example\nold", "Ok."},
		{"outlook french original message", "Ok.\n\n-----Message d'origine-----\nDe : s@x.example\nancien", "Ok."},
		{"apple mail", "Thanks!\n\n> On 23 Nov 2026, at 09:00, Support <s@x.example> wrote:\n> \n> old", "Thanks!"},
		{"thunderbird", "Fine.\n\nOn 11/23/26 09:00, Support wrote:\n> old", "Fine."},
		{"signature", "Body.\n\n-- \nAlice\nACME Corp", "Body."},
		{"mobile signature", "Body.\n\nSent from my iPhone", "Body."},
		{"inline replies kept", "> question one\nanswer one\n> question two\nanswer two", "> question one\nanswer one\n> question two\nanswer two"},
		{"only a quote keeps the text", "> everything quoted", "> everything quoted"},
		{"on in the middle of text is not an attribution", "On Monday the printer broke.\nIt smoked.", "On Monday the printer broke.\nIt smoked."},
		{"from line in the body is kept", "From: the printer came smoke.\nAnd fire.", "From: the printer came smoke.\nAnd fire."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := StripQuotes(tc.in); got != tc.want {
				t.Errorf("StripQuotes:\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
