package ftpput

import "testing"

var passiveReplies = []struct {
	name    string
	epsv    bool // an EPSV reply, else PASV
	msg     string
	port    int
	wantErr bool
}{
	{"epsv", true, "Entering Extended Passive Mode (|||6446|)", 6446, false},
	{"epsv other delimiter", true, "Entering Extended Passive Mode (!!!6446!)", 6446, false},
	{"epsv no text", true, "(|||21|)", 21, false},
	{"epsv port 0", true, "Entering Extended Passive Mode (|||0|)", 0, true},
	{"epsv port too big", true, "Entering Extended Passive Mode (|||65536|)", 0, true},
	{"epsv with address", true, "Entering Extended Passive Mode (|2|::1|6446|)", 0, true},
	{"epsv no parens", true, "Entering Extended Passive Mode |||6446|", 0, true},
	{"epsv empty", true, "", 0, true},
	{"epsv short", true, "(|||)", 0, true},
	{"pasv", false, "Entering Passive Mode (127,0,0,1,25,46)", 25<<8 | 46, false},
	{"pasv no parens", false, "Entering Passive Mode 10,0,0,1,4,1.", 4<<8 | 1, false},
	{"pasv port 0", false, "Entering Passive Mode (127,0,0,1,0,0)", 0, true},
	{"pasv byte too big", false, "Entering Passive Mode (127,0,0,1,256,1)", 0, true},
	{"pasv short", false, "Entering Passive Mode (127,0,0,1,4)", 0, true},
	{"pasv no digits", false, "Entering Passive Mode", 0, true},
}

func TestParsePassive(t *testing.T) {
	for _, tt := range passiveReplies {
		t.Run(tt.name, func(t *testing.T) {
			parse := parsePASV
			if tt.epsv {
				parse = parseEPSV
			}
			port, err := parse(tt.msg)
			if tt.wantErr {
				if err == nil {
					t.Errorf("got port %d, want an error", port)
				}
				return
			}
			if err != nil || port != tt.port {
				t.Errorf("got %d, %v; want %d", port, err, tt.port)
			}
		})
	}
}

func FuzzParsePassive(f *testing.F) {
	for _, tt := range passiveReplies {
		f.Add(tt.epsv, tt.msg)
	}
	f.Fuzz(func(t *testing.T, epsv bool, msg string) {
		parse := parsePASV
		if epsv {
			parse = parseEPSV
		}
		if port, err := parse(msg); err == nil && (port < 1 || port > 65535) {
			t.Fatalf("parse(%q) = %d, want a port 1-65535 or an error", msg, port)
		}
	})
}
