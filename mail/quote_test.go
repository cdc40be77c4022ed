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
		{"signature is the writer's and stays", "Body.\n\n-- \nAlice\nACME Corp", "Body.\n\n-- \nAlice\nACME Corp"},
		{"mobile signature stays", "Body.\n\nSent from my iPhone", "Body.\n\nSent from my iPhone"},
		{"every answer between quotes stays", "> question one\nanswer one\n> question two\nanswer two", "answer one\nanswer two"},
		{"bottom-posted answer below the quote", "On Mon, Nov 23, 2026 at 9:00 AM Support <s@x.example> wrote:\n> old\n\nnew", "new"},
		{"greeting above a bottom-post stays", "Hi,\nOn Mon, Nov 23, 2026 at 9:00 AM Support wrote:\n> old\n\nnew", "Hi,\n\nnew"},
		{"forward marker keeps what follows", "See below.\n\n-------- Forwarded Message --------\nFrom: a@b\n\n> quoted in the forward", "See below.\n\n-------- Forwarded Message --------\nFrom: a@b\n\n> quoted in the forward"},
		{"underscores followed by a header block", "Ok.\n________________________________\nFrom: s@x.example\nSent: today\nold", "Ok."},
		{"attribution with no quote after it", "Ok.\n\nOn Mon, Nov 23, 2026 at 9:00 AM Support <s@x.example> wrote:\nold unquoted", "Ok."},
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
