package ftpgateway

import (
	"errors"
	"testing"
)

var parseLineTests = []struct {
	name      string
	raw       string
	verb, arg string
	err       error
}{
	{"simple", "USER root", "USER", "root", nil},
	{"lower case verb", "user root", "USER", "root", nil},
	{"mixed case verb", "xCrC a", "XCRC", "a", nil},
	{"no argument", "NOOP", "NOOP", "", nil},
	{"leading blanks", "   PWD", "PWD", "", nil},
	{"blanks before the argument", "RETR   a b", "RETR", "a b", nil},
	{"trailing blank kept in the argument", "RETR a ", "RETR", "a ", nil},
	{"empty", "", "", "", errEmpty},
	{"blanks only", "    ", "", "", errEmpty},
	{"NUL in the argument", "RETR a\x00b", "", "", errDelimiter},
	{"CR in the argument", "RETR a\rb", "", "", errDelimiter},
	{"NUL in the verb", "NO\x00OP", "", "", errDelimiter},
	{"telnet IP and synch before ABOR", "\xff\xf4\xff\xf2ABOR", "ABOR", "", nil},
	{"telnet WILL option", "\xff\xfb\x01NOOP", "NOOP", "", nil},
	{"telnet DONT option", "\xff\xfe\x03STAT", "STAT", "", nil},
	{"escaped IAC in the argument", "RETR a\xff\xffb", "RETR", "a\xffb", nil},
	{"telnet command only", "\xff\xf4", "", "", errEmpty},
}

func TestParseLine(t *testing.T) {
	for _, tt := range parseLineTests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := parseLine([]byte(tt.raw))
			if !errors.Is(err, tt.err) {
				t.Fatalf("parseLine(%q): got error %v, want %v", tt.raw, err, tt.err)
			}
			if err == nil && (cmd.verb != tt.verb || cmd.arg != tt.arg) {
				t.Errorf("parseLine(%q): got %q %q, want %q %q", tt.raw, cmd.verb, cmd.arg, tt.verb, tt.arg)
			}
		})
	}
}

var parsePORTTests = []struct {
	name string
	arg  string
	addr string
	err  error
}{
	{"loopback", "127,0,0,1,4,0", "127.0.0.1:1024", nil},
	{"highest port", "10,0,0,1,255,255", "10.0.0.1:65535", nil},
	{"port zero", "10,0,0,1,0,0", "10.0.0.1:0", nil},
	{"blanks around", " 127,0,0,1,19,136 ", "127.0.0.1:5000", nil},
	{"empty", "", "", errIPDelimiter},
	{"three numbers", "127,0,0", "", errIPDelimiter},
	{"five numbers", "127,0,0,1,4", "", errPortDelim},
	{"seven numbers", "127,0,0,1,4,0,1", "", errPortDelim},
	{"dots", "127.0.0.1.4.0", "", errIPDelimiter},
	{"bad address byte", "127,0,x,1,4,0", "", errIPAddress},
	{"address byte over 255", "300,0,0,1,4,0", "", errIPAddress},
	{"empty address byte", "127,,0,1,4,0", "", errIPAddress},
	{"bad port byte", "127,0,0,1,x,0", "", errPort},
	{"port byte over 255", "127,0,0,1,4,256", "", errPort},
	{"negative port byte", "127,0,0,1,4,-1", "", errPort},
	{"long number", "127,0,0,1,4,0000", "", errPort},
}

func TestParsePORT(t *testing.T) {
	for _, tt := range parsePORTTests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parsePORT(tt.arg)
			if !errors.Is(err, tt.err) {
				t.Fatalf("parsePORT(%q): got error %v, want %v", tt.arg, err, tt.err)
			}
			if err == nil && a.String() != tt.addr {
				t.Errorf("parsePORT(%q): got %v, want %s", tt.arg, a, tt.addr)
			}
		})
	}
}

var parseEPRTTests = []struct {
	name string
	arg  string
	addr string
	err  error
}{
	{"IPv4", "|1|127.0.0.1|5000|", "127.0.0.1:5000", nil},
	{"IPv6", "|2|::1|5000|", "[::1]:5000", nil},
	{"other delimiter", "!1!10.1.2.3!65535!", "10.1.2.3:65535", nil},
	{"blanks around", " |1|127.0.0.1|1| ", "127.0.0.1:1", nil},
	{"empty", "", "", errEPRTDelim},
	{"short", "|1|", "", errEPRTDelim},
	{"missing last delimiter", "|1|127.0.0.1|5000", "", errEPRTDelim},
	{"missing first delimiter", "1|127.0.0.1|5000|", "", errEPRTDelim},
	{"extra field", "|1|127.0.0.1|5000|x|", "", errEPRTDelim},
	{"no port", "|1|127.0.0.1|", "", errEPRTDelim},
	{"blank delimiter", " 1 127.0.0.1 5000 ", "", errEPRTDelim},
	{"unknown protocol", "|3|127.0.0.1|5000|", "", errProtocol},
	{"empty protocol", "||127.0.0.1|5000|", "", errProtocol},
	{"IPv6 address for protocol 1", "|1|::1|5000|", "", errIPAddress},
	{"IPv4 address for protocol 2", "|2|127.0.0.1|5000|", "", errIPAddress},
	{"bad address", "|1|300.1.1.1|5000|", "", errIPAddress},
	{"host name", "|1|localhost|5000|", "", errIPAddress},
	{"commas in the address", "|1|127,0,0,1|5000|", "", errIPDelimiter},
	{"colon in an IPv4 address", "|1|127.0.0:1|5000|", "", errIPDelimiter},
	{"double dot", "|1|127..0.0.1|5000|", "", errIPDelimiter},
	{"three bytes", "|1|127.0.1|5000|", "", errIPAddress},
	{"byte too big with commas", "|1|300,0,0,1|5000|", "", errIPAddress},
	{"port zero", "|1|127.0.0.1|0|", "", errPort},
	{"port too big", "|1|127.0.0.1|65536|", "", errPort},
	{"bad port", "|1|127.0.0.1|x|", "", errPort},
}

func TestParseEPRT(t *testing.T) {
	for _, tt := range parseEPRTTests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := parseEPRT(tt.arg)
			if !errors.Is(err, tt.err) {
				t.Fatalf("parseEPRT(%q): got error %v, want %v", tt.arg, err, tt.err)
			}
			if err == nil && a.String() != tt.addr {
				t.Errorf("parseEPRT(%q): got %v, want %s", tt.arg, a, tt.addr)
			}
		})
	}
}

var parseEPSVTests = []struct {
	name  string
	arg   string
	all   bool
	proto int
	err   error
}{
	{"none", "", false, 0, nil},
	{"IPv4", "1", false, 1, nil},
	{"IPv6", "2", false, 2, nil},
	{"ALL", "ALL", true, 0, nil},
	{"all lower case", "all", true, 0, nil},
	{"blanks", " 1 ", false, 1, nil},
	{"unknown protocol", "3", false, 0, errProtocol},
	{"word", "x", false, 0, errProtocol},
}

func TestParseEPSV(t *testing.T) {
	for _, tt := range parseEPSVTests {
		t.Run(tt.name, func(t *testing.T) {
			all, proto, err := parseEPSV(tt.arg)
			if !errors.Is(err, tt.err) {
				t.Fatalf("parseEPSV(%q): got error %v, want %v", tt.arg, err, tt.err)
			}
			if err == nil && (all != tt.all || proto != tt.proto) {
				t.Errorf("parseEPSV(%q): got %v %d, want %v %d", tt.arg, all, proto, tt.all, tt.proto)
			}
		})
	}
}

var parseCRCTests = []struct {
	name    string
	arg     string
	file    string
	off, n  int64
	hasLen  bool
	wantErr bool
}{
	{"nothing", "", "", 0, 0, false, false},
	{"name", "f.dat", "f.dat", 0, 0, false, false},
	{"quoted name", `"f.dat"`, "f.dat", 0, 0, false, false},
	{"quoted name with a space", `"a b.dat" 1 2`, "a b.dat", 1, 2, true, false},
	{"name and offset", "f.dat 10", "f.dat", 10, 0, false, false},
	{"name, offset and size", "f.dat 10 20", "f.dat", 10, 20, true, false},
	{"offset only", "5", "", 5, 0, false, false},
	{"offset and size only", "5 6", "", 5, 6, true, false},
	{"quoted numeric name", `"5" 1`, "5", 1, 0, false, false},
	{"huge offset", "f 9223372036854775807", "f", 9223372036854775807, 0, false, false},
	{"negative offset", "f -1", "", 0, 0, false, true},
	{"negative size", "f 1 -1", "", 0, 0, false, true},
	{"offset overflow", "f 9223372036854775808", "", 0, 0, false, true},
	{"bad size", "f 1 x", "", 0, 0, false, true},
	{"too many fields", "f 1 2 3", "", 0, 0, false, true},
	{"unterminated quote", `"f.dat 1`, "", 0, 0, false, true},
}

func TestParseCRCArgs(t *testing.T) {
	for _, tt := range parseCRCTests {
		t.Run(tt.name, func(t *testing.T) {
			name, off, n, hasLen, err := parseCRCArgs(tt.arg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseCRCArgs(%q): got error %v, want error %v", tt.arg, err, tt.wantErr)
			}
			if err == nil && (name != tt.file || off != tt.off || n != tt.n || hasLen != tt.hasLen) {
				t.Errorf("parseCRCArgs(%q): got %q %d %d %v, want %q %d %d %v",
					tt.arg, name, off, n, hasLen, tt.file, tt.off, tt.n, tt.hasLen)
			}
		})
	}
}
